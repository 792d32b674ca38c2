"""API keys for tests: one per role, and a client that carries the right one by route.

The route × role matrix (``test_access.py``) tests who may do what; the other API tests
exercise behaviour, so ``KeyedClient`` sends the gateway key to the SMS intake and the
operator key everywhere else, unless a test passes its own ``Authorization``.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from vasguard.bootstrap import Runtime
from vasguard.domain.access import Role
from vasguard.services.keys import create_key

PARTNER_PROVIDER = "801001"  # the world's 星云信息
OTHER_PROVIDER = "802001"  # the world's 校园通科技


def issue_keys(rt: Runtime, home_province: str) -> dict[str, str]:
    """Keys by name: one per role, a partner of each world provider, a provincial care key."""
    wanted: dict[str, tuple[Role, str | None, str | None]] = {
        "operator": (Role.OPERATOR, None, None),
        "care": (Role.CARE, None, None),
        "partner": (Role.PARTNER, PARTNER_PROVIDER, None),
        "partner-other": (Role.PARTNER, OTHER_PROVIDER, None),
        "gateway": (Role.GATEWAY, None, None),
        "care-home": (Role.CARE, None, home_province),
        "care-elsewhere": (Role.CARE, None, "65" if home_province != "65" else "11"),
    }
    return {
        name: create_key(
            rt.uow(),
            rt.clock(),
            role=role,
            name=name,
            provider_code=provider,
            province=province,
            created_by="tests",
        )[0]
        for name, (role, provider, province) in wanted.items()
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class KeyedClient(TestClient):
    """A test client that authenticates as the role the route is for."""

    def __init__(self, app: Any, keys: dict[str, str]) -> None:
        super().__init__(app)
        self.keys = keys

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = dict(kwargs.pop("headers", None) or {})
        if "Authorization" not in headers:
            role = "gateway" if "/api/v1/sms/" in str(url) else "operator"
            headers.update(bearer(self.keys[role]))
        return super().request(method, url, headers=headers, **kwargs)


def as_key(client: KeyedClient, name: str) -> dict[str, str]:
    """The ``Authorization`` header of the key ``name`` the client was given."""
    return bearer(client.keys[name])

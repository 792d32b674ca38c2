"""Who is calling: the bearer key of every request, checked before the route runs.

A route declares what it does with ``Depends(requires(Action.X))`` and receives the
``Principal``; ``domain.access.may`` decides whether that principal's role holds the
action. No key, or a key that is malformed, unknown, wrong or revoked: 401. A valid key
whose role may not: 403. Scoping (a partner's provider, a provincial key's province) is
the route's business, with the principal in hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vasguard.bootstrap import Runtime
from vasguard.domain.access import Action, Principal, roles_allowed
from vasguard.domain.access import may as role_may
from vasguard.services.keys import authenticate

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `vasguard keys create`: `Authorization: Bearer vg_…`",
)


class NotAuthenticated(Exception):
    """No usable key came with the request (401)."""


class NotAllowed(Exception):
    """The key is good but its role may not do this (403)."""

    def __init__(self, principal: Principal, action: Action) -> None:
        allowed = ", ".join(r.value for r in roles_allowed(action)) or "no role"
        super().__init__(
            f"a {principal.role.value} key may not {action.value.replace('_', ' ')} "
            f"(allowed: {allowed})"
        )


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def principal_of(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the request's bearer key; kept on the request for the logs.

    Every authenticated request spends a token of its key's rate limit here, once per
    request (FastAPI solves this dependency once however many others need it), before
    the route does anything: over the limit is a 429 (``limits.RateLimit``).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated
    principal = authenticate(runtime_of(request).reader(), credentials.credentials)
    if principal is None:
        raise NotAuthenticated
    request.state.principal = principal
    request.app.state.rate_limit.take(principal)
    return principal


def requires(action: Action) -> Callable[[Principal], Principal]:
    """A dependency: the request's principal, if its role holds ``action``."""

    def allowed(principal: Annotated[Principal, Depends(principal_of)]) -> Principal:
        if not role_may(principal.role, action):
            raise NotAllowed(principal, action)
        return principal

    allowed.__name__ = f"requires_{action.value}"
    return allowed

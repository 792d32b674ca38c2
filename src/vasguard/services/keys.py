"""API keys: created (shown once), listed, revoked, and checked on every request."""

from __future__ import annotations

import secrets
from enum import StrEnum

from vasguard.domain.access import (
    KEY_ID_LENGTH,
    ApiKey,
    PresentedKey,
    Principal,
    Role,
    format_key,
    parse_key,
    secret_matches,
)
from vasguard.domain.clock import Clock
from vasguard.domain.refusals import RefusedBecause
from vasguard.services.unit_of_work import UnitOfWork


class KeyRefusal(StrEnum):
    NAME_TAKEN = "key_name_taken"
    UNKNOWN_KEY = "unknown_key"
    UNKNOWN_PROVIDER = "unknown_provider"
    UNKNOWN_PROVINCE = "unknown_province"
    PROVIDER_NEEDED = "provider_needed"
    PROVIDER_NOT_ALLOWED = "provider_not_allowed"


class KeyRefused(RefusedBecause[KeyRefusal]):
    pass


def create_key(
    uow: UnitOfWork,
    clock: Clock,
    *,
    role: Role,
    name: str,
    provider_code: str | None,
    province: str | None,
    created_by: str,
) -> tuple[str, ApiKey]:
    """A new key: its whole text (to show once; it is not kept) and its stored record.

    A partner key is bound to one provider, and only a partner key is.
    """
    if role is Role.PARTNER and provider_code is None:
        raise KeyRefused(KeyRefusal.PROVIDER_NEEDED, "a partner key needs --provider CODE")
    if role is not Role.PARTNER and provider_code is not None:
        raise KeyRefused(
            KeyRefusal.PROVIDER_NOT_ALLOWED, f"only a partner key has a provider, not {role}"
        )
    presented = PresentedKey(secrets.token_hex(KEY_ID_LENGTH // 2), secrets.token_urlsafe(32))
    with uow:
        provider_id = None
        if provider_code is not None:
            provider_id = uow.catalogue.provider_id_by_code(provider_code)
            if provider_id is None:
                raise KeyRefused(KeyRefusal.UNKNOWN_PROVIDER, f"no provider {provider_code!r}")
        if province is not None and not uow.catalogue.is_province(province):
            raise KeyRefused(KeyRefusal.UNKNOWN_PROVINCE, f"no province {province!r}")
        if uow.keys.name_taken(name):
            raise KeyRefused(KeyRefusal.NAME_TAKEN, f"a key named {name!r} exists already")
        uow.keys.add(
            key_id=presented.key_id,
            name=name,
            role=role,
            provider_id=provider_id,
            province=province,
            secret_sha256=presented.secret_sha256,
            at=clock.now(),
            created_by=created_by,
        )
        stored = uow.keys.by_name(name)
        uow.commit()
    assert stored is not None
    return format_key(presented.key_id, presented.secret), stored


def list_keys(uow: UnitOfWork) -> list[ApiKey]:
    with uow:
        return uow.keys.listed()


def revoke_key(uow: UnitOfWork, clock: Clock, *, name: str) -> ApiKey:
    """Revoke the key named ``name``: the next request with it is refused."""
    with uow:
        found = uow.keys.by_name(name)
        if found is None:
            raise KeyRefused(KeyRefusal.UNKNOWN_KEY, f"no key named {name!r}")
        uow.keys.revoke(found.id, clock.now())
        revoked = uow.keys.by_name(name)
        uow.commit()
    assert revoked is not None
    return revoked


def authenticate(uow: UnitOfWork, token: str) -> Principal | None:
    """The principal ``token`` stands for, or ``None`` for a malformed, unknown, wrong or
    revoked key (one answer for all four, so a caller learns nothing of which).

    Read on every request, not cached: a key revoked by another process stops at once.
    """
    presented = parse_key(token)
    if presented is None:
        return None
    with uow:
        stored = uow.keys.for_check(presented.key_id)
    if stored is None or stored.revoked or not secret_matches(presented, stored.secret_sha256):
        return None
    return Principal(stored.id, stored.name, stored.role, stored.provider_id, stored.province)

"""Logging in to the web console with an API key, and the session that follows.

Only a key whose role may use the console (``Action.USE_CONSOLE``: the operator's own
staff) opens a session; a partner's or a gateway's key is refused, with a reason that
says so, because those keys belong to machines outside the operator. Every request
reads the session and its key again, so a key revoked anywhere ends its sessions at the
next request.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from vasguard.domain.access import Action, Principal, may, roles_allowed
from vasguard.domain.clock import Clock
from vasguard.domain.console import SESSION_LIFETIME, ConsoleSession, token_sha256
from vasguard.domain.refusals import RefusedBecause
from vasguard.services.keys import authenticate
from vasguard.services.unit_of_work import UnitOfWork


class LoginRefusal(StrEnum):
    BAD_KEY = "console_bad_key"
    NOT_STAFF = "console_not_staff"


class LoginRefused(RefusedBecause[LoginRefusal]):
    pass


@dataclass(frozen=True, slots=True)
class Login:
    """A session just opened: its id for the cookie (shown once, not kept) and its
    CSRF token."""

    token: str
    csrf_token: str
    principal: Principal


def log_in(uow: UnitOfWork, clock: Clock, key: str) -> Login:
    """Open a session for the holder of ``key``, or refuse (nothing stored)."""
    principal = authenticate(uow, key.strip())
    if principal is None:
        raise LoginRefused(LoginRefusal.BAD_KEY, "this key is unknown, revoked or mistyped")
    if not may(principal.role, Action.USE_CONSOLE):
        allowed = " or ".join(r.value for r in roles_allowed(Action.USE_CONSOLE))
        raise LoginRefused(
            LoginRefusal.NOT_STAFF,
            f"a {principal.role.value} key cannot log in to the console (only {allowed} keys)",
        )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    at = clock.now()
    with uow:
        uow.console_sessions.add(
            token_sha256=token_sha256(token),
            api_key_id=principal.key_row_id,
            csrf_token=csrf,
            at=at,
            expires_at=at + SESSION_LIFETIME,
        )
        uow.commit()
    return Login(token, csrf, principal)


def session_of(
    reader: UnitOfWork, clock: Clock, token: str, writer: Callable[[], UnitOfWork]
) -> ConsoleSession | None:
    """The live session ``token`` names, or ``None``. Read with ``reader`` (no writer lock:
    on SQLite a bill run holds that for its whole run, and pages must not wait for it); a
    session found dead because its key was revoked or its time is up is ended with a
    ``writer()``, so it stays dead."""
    at = clock.now()
    with reader:
        found = reader.console_sessions.by_token(token_sha256(token))
    if found is None or found.live_at(at):
        return found
    if found.ended_at is None:
        with writer() as uow:
            uow.console_sessions.end(found.id, at)
            uow.commit()
    return None


def log_out(uow: UnitOfWork, clock: Clock, token: str) -> None:
    """End the session ``token`` names, if there is one."""
    with uow:
        found = uow.console_sessions.by_token(token_sha256(token))
        if found is not None:
            uow.console_sessions.end(found.id, clock.now())
            uow.commit()


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Whether a form carried its session's CSRF token (constant-time comparison)."""
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())

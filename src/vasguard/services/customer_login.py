"""Customers logging in to their own page with a one-time code sent by SMS.

The code goes out through the outbox from the service number, like every other MT, so
it is stored, sent by whichever SMS engine runs, and shown in the customer's messages.
A number that is well formed but not ours is answered as if a code had been sent: the
page must not tell strangers who is a subscriber. Wrong codes are counted in their own
transaction, so a refused try still counts.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.clock import Clock
from vasguard.domain.console import token_sha256
from vasguard.domain.customer_login import (
    CODE_VALIDITY,
    MAX_TRIES,
    SESSION_LIFETIME,
    CustomerSession,
    hash_code,
    new_code,
    wait_before_next_code,
)
from vasguard.domain.messages import MessageKind
from vasguard.domain.msisdn import normalise
from vasguard.domain.refusals import RefusedBecause
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.messaging import queue_mt
from vasguard.services.unit_of_work import UnitOfWork

VALID_MINUTES = int(CODE_VALIDITY.total_seconds() // 60)


class CodeRefusal(StrEnum):
    TOO_SOON = "code_too_soon"
    WRONG_CODE = "code_wrong"
    NO_CODE = "code_none"


class CodeRefused(RefusedBecause[CodeRefusal]):
    def __init__(self, refusal: CodeRefusal, detail: str, *, left: int = 0) -> None:
        super().__init__(refusal, detail)
        self.left = left  # tries or seconds left, as the refusal says


@dataclass(frozen=True, slots=True)
class CodeSent:
    msisdn: str
    valid_minutes: int


@dataclass(frozen=True, slots=True)
class CustomerLogin:
    """A login just opened: the session id for the cookie (not kept) and its CSRF token."""

    token: str
    csrf_token: str


def request_code(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    raw_msisdn: str,
    *,
    rng: random.Random | None = None,
) -> CodeSent:
    """Send a new code to the number (a malformed one is refused; one not ours is
    answered alike and sent nothing)."""
    msisdn = normalise(raw_msisdn)
    at = clock.now()
    with uow:
        subscriber = uow.subscribers.by_msisdn(msisdn)
        if subscriber is None or subscriber.status != "active":
            return CodeSent(msisdn, VALID_MINUTES)
        issued = uow.customer_logins.issued_since(subscriber.id, at - timedelta(hours=1))
        wait = wait_before_next_code(issued, at)
        if wait is not None:
            seconds = math.ceil(wait.total_seconds())
            raise CodeRefused(
                CodeRefusal.TOO_SOON,
                f"a code was sent lately; ask again in {seconds} s",
                left=seconds,
            )
        code = new_code(rng or random.SystemRandom())
        salt = secrets.token_bytes(16)
        message_id = queue_mt(
            uow,
            deployment,
            subscriber,
            kind=MessageKind.LOGIN_CODE,
            text=templates_for(deployment, subscriber).login_code(
                code=code, valid_minutes=VALID_MINUTES
            ),
            at=at,
        )
        uow.customer_logins.add_code(
            subscriber_id=subscriber.id,
            province=subscriber.province,
            code_hash=hash_code(code, salt),
            salt=salt,
            message_id=message_id,
            at=at,
            expires_at=at + CODE_VALIDITY,
        )
        uow.commit()
    return CodeSent(msisdn, VALID_MINUTES)


def log_in_with_code(uow: UnitOfWork, clock: Clock, raw_msisdn: str, code: str) -> CustomerLogin:
    """Open a login with the number's latest code, or refuse and count the try."""
    msisdn = normalise(raw_msisdn)
    typed = code.strip()
    at = clock.now()
    with uow:
        subscriber = uow.subscribers.by_msisdn(msisdn)
        latest = uow.customer_logins.latest_code(subscriber.id) if subscriber else None
        if subscriber is None or latest is None or not latest.usable_at(at):
            raise CodeRefused(
                CodeRefusal.NO_CODE, "no code is waiting for this number: ask for a new one"
            )
        if not (typed.isdigit() and latest.matches(typed)):
            uow.customer_logins.count_try(latest.id)
            uow.commit()
            left = MAX_TRIES - latest.tries - 1
            raise CodeRefused(
                CodeRefusal.WRONG_CODE if left else CodeRefusal.NO_CODE,
                f"wrong code; {left} tries left" if left else "wrong code; ask for a new one",
                left=left,
            )
        if not uow.customer_logins.use_code(latest.id, at):
            raise CodeRefused(CodeRefusal.NO_CODE, "this code was used: ask for a new one")
        login = _open(uow, subscriber, at)
        uow.commit()
    return login


def _open(uow: UnitOfWork, subscriber: Subscriber, at: datetime) -> CustomerLogin:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    uow.customer_logins.add_session(
        token_sha256=token_sha256(token),
        subscriber_id=subscriber.id,
        province=subscriber.province,
        csrf_token=csrf,
        at=at,
        expires_at=at + SESSION_LIFETIME,
    )
    return CustomerLogin(token, csrf)


def customer_session(uow: UnitOfWork, clock: Clock, token: str) -> CustomerSession | None:
    """The live login ``token`` names, or ``None``."""
    with uow:
        found = uow.customer_logins.session(token_sha256(token))
    return found if found is not None and found.live_at(clock.now()) else None


def log_out_customer(uow: UnitOfWork, clock: Clock, token: str) -> None:
    with uow:
        found = uow.customer_logins.session(token_sha256(token))
        if found is not None:
            uow.customer_logins.end_session(found.id, clock.now())
            uow.commit()

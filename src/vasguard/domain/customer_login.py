"""The customer's own page (``/my``): logging in with a one-time code sent by SMS.

A code is six random digits, sent from the service number, good for five minutes and
five tries, and only the latest one counts. It is stored as a salted scrypt hash: six
digits are a million guesses, so a fast hash would give a code away to anyone reading
the table within its five minutes, while scrypt makes that take hours. A number gets a
new code at most once a minute and five times an hour, so the page cannot be used to
flood a handset; one client address may ask for ten an hour, whichever the numbers, so
it cannot be used to text every subscriber either. A login lasts half an hour: long
enough to cancel, short on a shared computer.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_DIGITS = 6
CODE_VALIDITY = timedelta(minutes=5)
MAX_TRIES = 5
RESEND_AFTER = timedelta(minutes=1)
CODES_PER_HOUR = 5
# Codes one client address may ask for in an hour, whatever the numbers: the page must
# not become a way to text every subscriber once a minute.
ADDRESS_CODES_PER_HOUR = 10
SESSION_LIFETIME = timedelta(minutes=30)


def new_code(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(CODE_DIGITS))


def hash_code(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(code.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def wait_before_next_code(
    issued: Sequence[datetime],
    at: datetime,
    *,
    per_hour: int = CODES_PER_HOUR,
    spacing: timedelta = RESEND_AFTER,
) -> timedelta | None:
    """How long a number (or an address) must wait for another code, given when its
    codes of the last hour were asked for; ``None`` when one may be sent now."""
    recent = sorted(t for t in issued if t > at - timedelta(hours=1))
    waits = []
    if recent and at - recent[-1] < spacing:
        waits.append(recent[-1] + spacing - at)
    if len(recent) >= per_hour:
        waits.append(recent[-per_hour] + timedelta(hours=1) - at)
    return max(waits) if waits else None


@dataclass(frozen=True, slots=True)
class LoginCode:
    """A stored code: its hash and salt, how long it counts, how often it was tried."""

    id: int
    subscriber_id: int
    code_hash: bytes
    salt: bytes
    expires_at: datetime
    tries: int
    used_at: datetime | None

    def usable_at(self, at: datetime) -> bool:
        return self.used_at is None and self.tries < MAX_TRIES and at < self.expires_at

    def matches(self, code: str) -> bool:
        """Constant-time comparison of the typed code's hash with the stored one."""
        return hmac.compare_digest(hash_code(code, self.salt), self.code_hash)


@dataclass(frozen=True, slots=True)
class CustomerSession:
    """A stored login of a customer on their own page."""

    id: int
    subscriber_id: int
    csrf_token: str
    expires_at: datetime
    ended_at: datetime | None

    def live_at(self, at: datetime) -> bool:
        return self.ended_at is None and at < self.expires_at

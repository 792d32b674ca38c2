"""The web console's sessions: how long a login lasts and when it stops counting.

A session stands for the API key it was opened with: it ends at logout, at the end of
its lifetime, or at the first request after the key is revoked, whichever comes first.
The browser holds a random id; the store holds only its SHA-256, so reading the table
opens no session (the id is random and long, so a slow hash would add nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from vasguard.domain.access import Principal

# A working shift: a console left open overnight asks for the key again in the morning.
SESSION_LIFETIME = timedelta(hours=8)


def token_sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A stored session, with the principal of its key as the key stands now."""

    id: int
    principal: Principal
    csrf_token: str
    expires_at: datetime
    ended_at: datetime | None
    key_revoked: bool

    def live_at(self, at: datetime) -> bool:
        """Whether a request at ``at`` may act in this session."""
        return self.ended_at is None and not self.key_revoked and at < self.expires_at

"""Idempotency keys by API key: claimed before the work, the answer kept after it.

The claim is an insert that does nothing if the key is there (the primary key is
``(api_key_id, key)``), so of two requests with one key, however close together, exactly
one claims it and does the work; the other finds the claim.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.idempotency import KeptRequest
from vasguard.store.tables import idempotency_keys

k = idempotency_keys.c
_CLAIM = {
    name: dialect.insert(idempotency_keys)
    .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
    .returning(k.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class IdempotencyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(self, api_key_id: int, key: str, request_sha256: bytes, at: datetime) -> bool:
        """Claim ``key`` for a request; ``False`` if it was claimed before."""
        claimed = self._conn.execute(
            _CLAIM[self._conn.dialect.name],
            {
                "api_key_id": api_key_id,
                "key": key,
                "request_sha256": request_sha256,
                "created_at": at,
            },
        )
        return claimed.first() is not None

    def kept(self, api_key_id: int, key: str) -> KeptRequest | None:
        row = self._conn.execute(
            select(k.request_sha256, k.status_code, k.response).where(
                k.api_key_id == api_key_id, k.key == key
            )
        ).first()
        if row is None:
            return None
        return KeptRequest(bytes(row.request_sha256), row.status_code, row.response)

    def keep(
        self, api_key_id: int, key: str, status_code: int, response: str, at: datetime
    ) -> None:
        """The claimed request's answer, for its retries."""
        self._conn.execute(
            update(idempotency_keys)
            .where(k.api_key_id == api_key_id, k.key == key, k.completed_at.is_(None))
            .values(status_code=status_code, response=response, completed_at=at)
        )

    def release(self, api_key_id: int, key: str) -> None:
        """Give up a claim that got no answer worth keeping, so a retry does the work."""
        self._conn.execute(
            delete(idempotency_keys).where(
                k.api_key_id == api_key_id, k.key == key, k.completed_at.is_(None)
            )
        )

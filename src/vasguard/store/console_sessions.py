"""The web console's sessions, by the SHA-256 of their id, with the key each stands for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from vasguard.domain.access import Principal, Role
from vasguard.domain.console import ConsoleSession
from vasguard.store.tables import api_keys, console_sessions


class ConsoleSessionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        token_sha256: bytes,
        api_key_id: int,
        csrf_token: str,
        at: datetime,
        expires_at: datetime,
    ) -> int:
        session_id: int = self._conn.execute(
            console_sessions.insert()
            .values(
                token_sha256=token_sha256,
                api_key_id=api_key_id,
                csrf_token=csrf_token,
                created_at=at,
                expires_at=expires_at,
            )
            .returning(console_sessions.c.id)
        ).scalar_one()
        return session_id

    def by_token(self, token_sha256: bytes) -> ConsoleSession | None:
        """The session whose id hashes to ``token_sha256``, with its key read now (a key
        revoked since the login shows as revoked)."""
        row = self._conn.execute(
            select(
                console_sessions.c.id,
                console_sessions.c.csrf_token,
                console_sessions.c.expires_at,
                console_sessions.c.ended_at,
                api_keys.c.id.label("key_row_id"),
                api_keys.c.name,
                api_keys.c.role,
                api_keys.c.provider_id,
                api_keys.c.province,
                api_keys.c.revoked_at,
            )
            .join_from(console_sessions, api_keys)
            .where(console_sessions.c.token_sha256 == token_sha256)
        ).first()
        if row is None:
            return None
        return ConsoleSession(
            id=row.id,
            principal=Principal(
                row.key_row_id, row.name, Role(row.role), row.provider_id, row.province
            ),
            csrf_token=row.csrf_token,
            expires_at=row.expires_at,
            ended_at=row.ended_at,
            key_revoked=row.revoked_at is not None,
        )

    def end(self, session_id: int, at: datetime) -> None:
        self._conn.execute(
            update(console_sessions)
            .where(console_sessions.c.id == session_id, console_sessions.c.ended_at.is_(None))
            .values(ended_at=at)
        )

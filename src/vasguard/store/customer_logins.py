"""The customer's own page: one-time codes and the logins they open."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, select, update

from vasguard.domain.customer_login import CustomerSession, LoginCode
from vasguard.store.tables import customer_sessions, login_codes


class CustomerLoginRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_code(
        self,
        *,
        subscriber_id: int,
        province: str,
        code_hash: bytes,
        salt: bytes,
        message_id: int,
        at: datetime,
        expires_at: datetime,
    ) -> int:
        code_id: int = self._conn.execute(
            login_codes.insert()
            .values(
                subscriber_id=subscriber_id,
                province=province,
                code_hash=code_hash,
                salt=salt,
                message_id=message_id,
                created_at=at,
                expires_at=expires_at,
                tries=0,
            )
            .returning(login_codes.c.id)
        ).scalar_one()
        return code_id

    def issued_since(self, subscriber_id: int, since: datetime) -> list[datetime]:
        """When the subscriber's codes issued after ``since`` were issued."""
        return list(
            self._conn.execute(
                select(login_codes.c.created_at).where(
                    login_codes.c.subscriber_id == subscriber_id,
                    login_codes.c.created_at > since,
                )
            ).scalars()
        )

    def latest_code(self, subscriber_id: int) -> LoginCode | None:
        """The subscriber's newest code, locked for the try about to be counted."""
        row = self._conn.execute(
            select(
                login_codes.c.id,
                login_codes.c.subscriber_id,
                login_codes.c.code_hash,
                login_codes.c.salt,
                login_codes.c.expires_at,
                login_codes.c.tries,
                login_codes.c.used_at,
            )
            .where(login_codes.c.subscriber_id == subscriber_id)
            .order_by(login_codes.c.id.desc())
            .limit(1)
            .with_for_update()
        ).first()
        return None if row is None else _code(row._mapping)

    def count_try(self, code_id: int) -> None:
        self._conn.execute(
            update(login_codes)
            .where(login_codes.c.id == code_id)
            .values(tries=login_codes.c.tries + 1)
        )

    def use_code(self, code_id: int, at: datetime) -> bool:
        """Spend the code; ``False`` if a concurrent login spent it first."""
        done = self._conn.execute(
            update(login_codes)
            .where(login_codes.c.id == code_id, login_codes.c.used_at.is_(None))
            .values(used_at=at, tries=login_codes.c.tries + 1)
        )
        return done.rowcount == 1

    def add_session(
        self,
        *,
        token_sha256: bytes,
        subscriber_id: int,
        province: str,
        csrf_token: str,
        at: datetime,
        expires_at: datetime,
    ) -> int:
        session_id: int = self._conn.execute(
            customer_sessions.insert()
            .values(
                token_sha256=token_sha256,
                subscriber_id=subscriber_id,
                province=province,
                csrf_token=csrf_token,
                created_at=at,
                expires_at=expires_at,
            )
            .returning(customer_sessions.c.id)
        ).scalar_one()
        return session_id

    def session(self, token_sha256: bytes) -> CustomerSession | None:
        row = self._conn.execute(
            select(
                customer_sessions.c.id,
                customer_sessions.c.subscriber_id,
                customer_sessions.c.csrf_token,
                customer_sessions.c.expires_at,
                customer_sessions.c.ended_at,
            ).where(customer_sessions.c.token_sha256 == token_sha256)
        ).first()
        return None if row is None else CustomerSession(**row._mapping)

    def end_session(self, session_id: int, at: datetime) -> None:
        self._conn.execute(
            update(customer_sessions)
            .where(customer_sessions.c.id == session_id, customer_sessions.c.ended_at.is_(None))
            .values(ended_at=at)
        )


def _code(row: RowMapping) -> LoginCode:
    return LoginCode(**{**row, "code_hash": bytes(row["code_hash"]), "salt": bytes(row["salt"])})

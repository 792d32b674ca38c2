"""API keys: stored by their public id with the SHA-256 of their secret, never the secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, select, update

from vasguard.domain.access import ApiKey, Role
from vasguard.store.tables import api_keys, providers

_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.key_id,
    api_keys.c.name,
    api_keys.c.role,
    providers.c.code.label("provider_code"),
    api_keys.c.province,
    api_keys.c.created_at,
    api_keys.c.created_by,
    api_keys.c.revoked_at,
)
_key_select = select(*_KEY_COLUMNS).join_from(api_keys, providers, isouter=True)
# Built once: it runs on every request.
_for_check = select(
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.role,
    api_keys.c.provider_id,
    api_keys.c.province,
    api_keys.c.secret_sha256,
    api_keys.c.revoked_at,
).where(api_keys.c.key_id == bindparam("key_id"))


class StoredKey:
    """What a request's key check needs: the stored hash and the principal's fields."""

    __slots__ = ("id", "name", "provider_id", "province", "revoked", "role", "secret_sha256")

    def __init__(self, row: RowMapping) -> None:
        self.id: int = row["id"]
        self.name: str = row["name"]
        self.role = Role(row["role"])
        self.provider_id: int | None = row["provider_id"]
        self.province: str | None = row["province"]
        self.secret_sha256: bytes = bytes(row["secret_sha256"])
        self.revoked: bool = row["revoked_at"] is not None


class ApiKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        key_id: str,
        name: str,
        role: Role,
        provider_id: int | None,
        province: str | None,
        secret_sha256: bytes,
        at: datetime,
        created_by: str,
    ) -> int:
        key_row_id: int = self._conn.execute(
            api_keys.insert()
            .values(
                key_id=key_id,
                name=name,
                role=role.value,
                provider_id=provider_id,
                province=province,
                secret_sha256=secret_sha256,
                created_at=at,
                created_by=created_by,
            )
            .returning(api_keys.c.id)
        ).scalar_one()
        return key_row_id

    def name_taken(self, name: str) -> bool:
        found = self._conn.execute(select(api_keys.c.id).where(api_keys.c.name == name))
        return found.first() is not None

    def for_check(self, key_id: str) -> StoredKey | None:
        """The key whose public id is ``key_id``, revoked or not, with its stored hash."""
        row = self._conn.execute(_for_check, {"key_id": key_id}).first()
        return None if row is None else StoredKey(row._mapping)

    def listed(self) -> list[ApiKey]:
        rows = self._conn.execute(_key_select.order_by(api_keys.c.id))
        return [_key(r._mapping) for r in rows]

    def by_name(self, name: str) -> ApiKey | None:
        row = self._conn.execute(_key_select.where(api_keys.c.name == name)).first()
        return None if row is None else _key(row._mapping)

    def revoke(self, key_row_id: int, at: datetime) -> None:
        self._conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_row_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(**{**row, "role": Role(row["role"])})

"""Parts of concatenated MOs, stored (so the SMSC can be acknowledged: invariant 6) until
the whole message is there, and for a while after (so a redelivered part finds its
message complete, and so acted on once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.concatenation import Fragment, FragmentSet, SetKey
from vasguard.store.tables import mo_fragments

f = mo_fragments.c
_KEY = (f.sender, f.destination, f.reference, f.total)
_INSERT = {
    name: dialect.insert(mo_fragments).on_conflict_do_nothing(
        index_elements=["sender", "destination", "reference", "total", "seqnum"]
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class FragmentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, fragments: Sequence[Fragment], at: datetime) -> None:
        """Store parts; a part stored before (a redelivery) is left as it was."""
        if fragments:
            self._conn.execute(
                _INSERT[self._conn.dialect.name],
                [
                    {
                        "sender": x.key.sender,
                        "destination": x.key.destination,
                        "reference": x.key.reference,
                        "total": x.key.total,
                        "seqnum": x.seqnum,
                        "data_coding": x.data_coding,
                        "payload": x.payload,
                        "received_at": at,
                    }
                    for x in fragments
                ],
            )

    def sets(self, keys: Sequence[SetKey]) -> list[FragmentSet]:
        """The parts stored so far of these messages."""
        if not keys:
            return []
        wanted = {tuple(k) for k in keys}
        rows = list(
            self._conn.execute(
                select(*_KEY, f.seqnum, f.data_coding, f.payload, f.received_at)
                .where(tuple_(*_KEY).in_(sorted(wanted)))
                .order_by(*_KEY, f.seqnum)
            ).all()
        )
        return _grouped(rows)

    def older_than(self, before: datetime, limit: int) -> list[FragmentSet]:
        """Messages whose first part came before ``before``, with every part stored."""
        keys = self._conn.execute(
            select(*_KEY).where(f.received_at < before).group_by(*_KEY).limit(limit)
        ).all()
        return self.sets([SetKey(*k) for k in keys])

    def forget(self, keys: Sequence[SetKey]) -> None:
        if keys:
            self._conn.execute(
                delete(mo_fragments).where(
                    or_(
                        *(
                            and_(
                                f.sender == k.sender,
                                f.destination == k.destination,
                                f.reference == k.reference,
                                f.total == k.total,
                            )
                            for k in keys
                        )
                    )
                )
            )


def _grouped(rows: Sequence[Any]) -> list[FragmentSet]:
    sets: dict[SetKey, list[Any]] = {}
    for row in rows:
        sets.setdefault(SetKey(row.sender, row.destination, row.reference, row.total), []).append(
            row
        )
    return [
        FragmentSet(
            key,
            int(parts[0].data_coding),
            {int(r.seqnum): bytes(r.payload) for r in parts},
            min(r.received_at for r in parts),
        )
        for key, parts in sets.items()
    ]

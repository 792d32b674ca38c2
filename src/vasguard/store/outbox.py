"""The outbox's rows: MT parts claimed, submitted and settled, and receipts waiting for
their part (invariant 11).

Claiming is one statement that picks due parts and marks them claimed: on PostgreSQL the
pick is ``FOR UPDATE SKIP LOCKED``, so concurrent senders (binds, processes) each take
different rows without waiting on one another; on SQLite the unit of work is the one
writer, so the pick and the mark cannot interleave with another sender's. A claim is a
lease: ``next_attempt_at`` is set to its end, so a part whose sender died is due again
then, and found by the same query as a queued one.

A message's own status follows its parts; each such update restates the condition on the
parts in SQL, and runs after the parts' own change was committed, so two senders (or two
receipts) finishing the last two parts of one message concurrently cannot both miss it:
the later one to commit sees the other's parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.messages import Receipt
from vasguard.domain.mt_parts import Claim, Outgoing, Rejected, Submitted
from vasguard.domain.segmentation import Encoding
from vasguard.store.prepared import DIALECTS, Prepared, one_of
from vasguard.store.tables import PART_PENDING, QUEUED, message_parts, messages, unmatched_receipts

p = message_parts.c
m = messages.c


@dataclass(frozen=True, slots=True)
class UncutMt:
    """A queued MT whose parts are not written yet."""

    id: int
    subscriber_id: int | None
    province: str | None
    text: str
    reply: bool


@dataclass(frozen=True, slots=True)
class SettledMessage:
    """An MT whose status a part's outcome just settled (for the event recording it)."""

    id: int
    subscriber_id: int | None
    province: str | None
    status: str
    reason: str | None = None


_INSERT_PARTS = {
    name: dialect.insert(message_parts).on_conflict_do_nothing(
        index_elements=["message_id", "number"]
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_ANY_PENDING = exists().where(p.message_id == m.id, PART_PENDING)
_ALL_DELIVERED = ~exists().where(p.message_id == m.id, p.state != "delivered")

_RELEASE = {
    sent: update(message_parts)
    .where(
        p.id == bindparam("part_id"),
        p.state == "claimed",
        p.attempts == bindparam("claimed_attempts"),
    )
    .values(
        state="queued",
        next_attempt_at=bindparam("due"),
        claimed_by=None,
        claimed_until=None,
        error=bindparam("reason"),
        attempts=p.attempts if sent else p.attempts - 1,
    )
    for sent in (True, False)
}
_KEEP_UNMATCHED = unmatched_receipts.insert()
_u = unmatched_receipts.c
_SENT_OR_QUEUED = m.status.in_([literal_column("'queued'"), literal_column("'sent'")])
_SETTLED = p.state.in_([literal_column("'delivered'"), literal_column("'failed'")])


@dataclass(frozen=True, slots=True)
class _Statements:
    """The sender's and the receipts' statements, for one dialect. They run several
    times a second per bind, so they are ``Prepared`` (store.prepared), and a list of ids
    is one parameter (``one_of``), not a placeholder per id."""

    uncut_due: Prepared
    claim: Prepared
    heads: Prepared
    submitted: Prepared
    mark_sent: Prepared
    settle_parts: Prepared
    settled_ids: Prepared
    delivered: Prepared
    failed: Prepared
    failed_parts: Prepared
    take_unmatched: Prepared

    @classmethod
    def build(cls, dialect: str) -> _Statements:
        due_parts = (
            select(p.id)
            .where(PART_PENDING, p.next_attempt_at <= bindparam("at"))
            .order_by(p.next_attempt_at, p.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        return cls(
            uncut_due=Prepared(
                select(m.id, m.subscriber_id, m.province, m.text, m.in_reply_to)
                .where(
                    QUEUED, m.send_after <= bindparam("at"), ~exists().where(p.message_id == m.id)
                )
                .order_by(m.send_after, m.id)
                .limit(bindparam("limit"))
                .with_for_update(skip_locked=True, of=messages)
            ),
            claim=Prepared(
                update(message_parts)
                .where(p.id.in_(due_parts.scalar_subquery()))
                .values(
                    state="claimed",
                    claimed_by=bindparam("owner"),
                    claimed_until=bindparam("until"),
                    next_attempt_at=bindparam("until"),
                    attempts=p.attempts + 1,
                )
                .returning(p.id, p.message_id, p.number, p.parts, p.text, p.attempts)
            ),
            heads=Prepared(
                select(m.id, m.msisdn, m.service_number, m.encoding).where(
                    one_of(m.id, "ids", dialect)
                )
            ),
            submitted=Prepared(
                update(message_parts)
                .where(p.id == bindparam("part_id"), PART_PENDING)
                .values(
                    state="submitted",
                    smsc_message_id=bindparam("smsc_id"),
                    submitted_at=bindparam("at"),
                    claimed_by=None,
                    claimed_until=None,
                    error=None,
                )
            ),
            mark_sent=Prepared(
                update(messages)
                .where(one_of(m.id, "ids", dialect), QUEUED, ~_ANY_PENDING)
                .values(status="sent", sent_at=bindparam("at"))
            ),
            settle_parts=Prepared(
                update(message_parts)
                .where(one_of(p.smsc_message_id, "ids", dialect), p.state == "submitted")
                .values(
                    state=bindparam("outcome"),
                    settled_at=bindparam("at"),
                    error=bindparam("reason"),
                )
                .returning(p.smsc_message_id, p.message_id)
            ),
            settled_ids=Prepared(
                select(p.smsc_message_id).where(one_of(p.smsc_message_id, "ids", dialect), _SETTLED)
            ),
            delivered=Prepared(
                update(messages)
                .where(one_of(m.id, "ids", dialect), m.status == "sent", _ALL_DELIVERED)
                .values(status="delivered", receipt_status="delivered", receipt_at=bindparam("at"))
                .returning(m.id, m.subscriber_id, m.province)
            ),
            failed=Prepared(
                update(messages)
                .where(
                    one_of(m.id, "ids", dialect),
                    _SENT_OR_QUEUED,
                    exists().where(
                        p.message_id == m.id, p.state == "failed", p.smsc_message_id.is_not(None)
                    ),
                )
                .values(status="failed", receipt_status="failed", receipt_at=bindparam("at"))
                .returning(m.id, m.subscriber_id, m.province)
            ),
            # Apart, not a subquery in the RETURNING above: SQLite renders the columns
            # there unqualified, and "message_id = id" inside it meant the part's own id.
            failed_parts=Prepared(
                select(p.message_id, p.error)
                .where(
                    one_of(p.message_id, "ids", dialect),
                    p.state == "failed",
                    p.error != "ABANDONED",
                )
                .order_by(p.message_id, p.number)
            ),
            take_unmatched=Prepared(
                delete(unmatched_receipts)
                .where(
                    one_of(_u.smsc_message_id, "ids", dialect),
                    exists().where(p.smsc_message_id == _u.smsc_message_id),
                )
                .returning(_u.smsc_message_id, _u.delivered, _u.at, _u.stat)
            ),
        )


_STATEMENTS = {dialect: _Statements.build(dialect) for dialect in DIALECTS}


class OutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sql = _STATEMENTS[conn.dialect.name]

    @property
    def _postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"

    # --- cutting and claiming -----------------------------------------------------------

    def uncut_due(self, at: datetime, limit: int) -> list[UncutMt]:
        """Queued MTs due by ``at`` that have no parts yet, oldest first; on PostgreSQL
        locked, skipping those another sender is cutting right now."""
        return [
            UncutMt(r[0], r[1], r[2], r[3], r[4] is not None)
            for r in self._sql.uncut_due.rows(self._conn, {"at": at, "limit": limit})
        ]

    def add_parts(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write parts (``message_id``, ``number``, ``parts``, ``text``, ...); parts a
        concurrent sender already wrote are left as they are."""
        if rows:
            self._conn.execute(_INSERT_PARTS[self._conn.dialect.name], list(rows))

    def claim(self, claim: Claim, limit: int) -> list[Outgoing]:
        """Take up to ``limit`` due parts (queued, or claimed by a sender whose lease ran
        out) for ``claim.owner`` until ``claim.until``."""
        rows = self._sql.claim.rows(
            self._conn,
            {
                "at": claim.at,
                "limit": limit,
                "owner": claim.owner_recorded,
                "until": claim.until,
            },
        )
        if not rows:
            return []
        heads = {
            r[0]: r[1:]
            for r in self._sql.heads.rows(self._conn, {"ids": sorted({r[1] for r in rows})})
        }
        claimed = [
            Outgoing(
                part_id=r[0],
                message_id=r[1],
                msisdn=heads[r[1]][0],
                source=heads[r[1]][1],
                encoding=cast(Encoding, heads[r[1]][2]),
                number=r[2],
                parts=r[3],
                text=r[4],
                attempts=r[5],
            )
            for r in rows
        ]
        claimed.sort(key=lambda part: (part.message_id, part.number))
        return claimed

    # --- what a submit came to ----------------------------------------------------------

    def store_submitted(self, submitted: Sequence[Submitted], at: datetime) -> int:
        """Record the SMSC ids of parts the SMSC took; how many parts changed. A part
        already submitted (its lease ran out while its first submit was still in flight,
        and another sender sent it too) keeps its first id."""
        if not submitted:
            return 0
        return self._sql.submitted.run_many(
            self._conn,
            [
                {"part_id": s.part.part_id, "smsc_id": s.smsc_message_id, "at": at}
                for s in submitted
            ],
        )

    def mark_sent(self, message_ids: Sequence[int], at: datetime) -> int:
        """MTs whose every part is now submitted become ``sent`` at ``at``: the instant the
        SMSC had all of it, which is what the charge reminder's lead time counts from.
        How many did."""
        if not message_ids:
            return 0
        return self._sql.mark_sent.run(self._conn, {"ids": sorted(set(message_ids)), "at": at})

    def release(
        self, part: Outgoing, next_attempt_at: datetime, error: str | None, *, sent: bool
    ) -> None:
        """Put a claimed part back in the queue, due at ``next_attempt_at``; ``sent=False``
        (nothing went out) does not count the claim as an attempt. Only this claim of
        it: if its lease ran out and another sender claimed it since, that claim stands."""
        self._conn.execute(
            _RELEASE[sent],
            {
                "part_id": part.part_id,
                "claimed_attempts": part.attempts,
                "due": next_attempt_at,
                "reason": error,
            },
        )

    def reject(self, rejected: Rejected, at: datetime) -> SettledMessage | None:
        """The SMSC refused a part for good: it fails with the status, its siblings not yet
        claimed are abandoned (a message missing a part is not worth the rest), and the
        message fails. The message, if this changed it."""
        part = self._conn.execute(
            update(message_parts)
            .where(
                p.id == rejected.part.part_id,
                p.state == "claimed",
                p.attempts == rejected.part.attempts,
            )
            .values(state="failed", error=rejected.status, settled_at=at, claimed_by=None)
            .returning(p.message_id)
        ).first()
        if part is None:
            return None
        self._conn.execute(
            update(message_parts)
            .where(p.message_id == part[0], p.state == "queued")
            .values(state="failed", error="ABANDONED", settled_at=at)
        )
        row = self._conn.execute(
            update(messages)
            .where(m.id == part[0], m.status.in_(["queued", "sent"]))
            .values(status="failed")
            .returning(m.id, m.subscriber_id, m.province)
        ).first()
        return SettledMessage(row[0], row[1], row[2], "failed", rejected.status) if row else None

    # --- receipts -----------------------------------------------------------------------

    def settle_parts(self, receipts: Sequence[Receipt]) -> dict[str, int]:
        """Apply final receipts to the submitted parts with their SMSC id; the message id
        of each part settled, by SMSC id. A repeated receipt changes nothing. Receipts
        that say the same thing at the same instant (a batch, usually) share one UPDATE."""
        groups: dict[tuple[bool, str, datetime], set[str]] = {}
        for receipt in receipts:
            key = (receipt.delivered, receipt.stat, receipt.at)
            groups.setdefault(key, set()).add(receipt.smsc_message_id)
        settled: dict[str, int] = {}
        for (delivered, stat, at), smsc_ids in groups.items():
            rows = self._sql.settle_parts.rows(
                self._conn,
                {
                    "ids": sorted(smsc_ids),
                    "outcome": "delivered" if delivered else "failed",
                    "at": at,
                    "reason": None if delivered else stat,
                },
            )
            settled.update({r[0]: r[1] for r in rows})
        return settled

    def settled_ids(self, smsc_ids: Sequence[str]) -> set[str]:
        """Which of these SMSC ids belong to parts already delivered or failed (a
        receipt for one of them is a repeat)."""
        if not smsc_ids:
            return set()
        return {
            r[0] for r in self._sql.settled_ids.rows(self._conn, {"ids": sorted(set(smsc_ids))})
        }

    def settle_messages(self, message_ids: Sequence[int], at: datetime) -> list[SettledMessage]:
        """MTs whose parts' receipts now decide them: delivered once every part is, failed
        once one part's receipt says so. ``receipt_status`` / ``receipt_at`` mean the
        whole MT, as the charging rule reads them."""
        if not message_ids:
            return []
        params = {"ids": sorted(set(message_ids)), "at": at}
        delivered = self._sql.delivered.rows(self._conn, params)
        failed = self._sql.failed.rows(self._conn, params)
        reasons: dict[int, str | None] = {}
        if failed:
            ids = {"ids": sorted(r[0] for r in failed)}
            for message_id, error in self._sql.failed_parts.rows(self._conn, ids):
                reasons.setdefault(message_id, error)  # the first failed part's, by number
        return [SettledMessage(r[0], r[1], r[2], "delivered") for r in delivered] + [
            SettledMessage(r[0], r[1], r[2], "failed", reasons.get(r[0])) for r in failed
        ]

    def keep_unmatched(self, receipts: Sequence[Receipt]) -> None:
        """Keep receipts no part carries the id of yet, until the id is stored."""
        if receipts:
            self._conn.execute(
                _KEEP_UNMATCHED,
                [
                    {
                        "smsc_message_id": r.smsc_message_id,
                        "delivered": r.delivered,
                        "stat": r.stat,
                        "at": r.at,
                    }
                    for r in receipts
                ],
            )

    def take_unmatched(self, smsc_ids: Sequence[str]) -> list[Receipt]:
        """Remove and return the kept receipts for these SMSC ids whose part now has it."""
        if not smsc_ids:
            return []
        rows = self._sql.take_unmatched.rows(self._conn, {"ids": sorted(set(smsc_ids))})
        return [Receipt(r[0], bool(r[1]), r[2], r[3]) for r in rows]

    def forget_unmatched(self, before: datetime) -> int:
        """Drop kept receipts older than ``before`` (their part's id never landed: a
        submit_sm_resp lost to a timeout); how many."""
        result = cast(
            CursorResult[Any],
            self._conn.execute(delete(unmatched_receipts).where(unmatched_receipts.c.at < before)),
        )
        return int(result.rowcount)

    # --- for the operator ---------------------------------------------------------------

    def depth(self, at: datetime) -> int:
        """MTs queued and due by ``at`` (metrics)."""
        count = self._conn.execute(
            select(func.count()).select_from(messages).where(QUEUED, m.send_after <= at)
        ).scalar_one()
        return int(count)

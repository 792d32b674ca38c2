"""Delivery receipts on a sharded deployment: each applied on the shard holding its part.

One SMSC serves every shard, and a receipt names only the SMSC id of its part. The SMPP
engine remembers which shard it submitted each recent id from (``known``), so most
receipts go straight there. An id it does not know (submitted before a restart, or by
another process on the same databases) is looked for on every shard: the shard where it
would apply holds its part. A receipt found on no shard came before whichever process
submitted its part had stored the id (``services.outbox.settle``), and nobody can say on
which shard that will be; so it is kept on every shard (``record_receipts`` keeps it),
and the part's shard applies its copy once the id is stored there. The copies on the
other shards never meet a part with that id (an SMSC does not reuse an id within days)
and are dropped with every other unmatched receipt after ``UNMATCHED_KEPT``. No receipt
is acknowledged before it is applied or kept, and none is applied on a shard that does
not hold its part. A shard that fails costs only its own receipts (and those no shard
could place while it did not answer): they are acknowledged with a temporary error and
come again.

With one database there is nothing to route: receipts are recorded there, as always.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vasguard.domain.messages import Receipt
from vasguard.services.outbox import record_receipts
from vasguard.services.shards import UowFactory
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Routed:
    """What became of a batch's receipts on the shards."""

    shards: dict[str, str]
    """The shard of each SMSC id placed on one (the caller remembers them)."""
    failed: frozenset[str] = frozenset()
    """SMSC ids recorded nowhere: a shard failed to answer or to commit. Acknowledged
    with a temporary error, they come again and are routed again; the other shards'
    receipts (and MOs) do not wait for the failed shard."""


def record_on_shards(
    shards: Mapping[str, UowFactory], receipts: Sequence[Receipt], known: Mapping[str, str]
) -> Routed:
    """Apply (or keep) each receipt on its part's shard, committed before this returns.
    ``known``: the shard each SMSC id was submitted from, as far as the caller knows.
    With one database, what ``record_receipts`` raises is raised, as it always was."""
    if len(shards) == 1:
        [only] = shards.values()
        record_receipts(only(), receipts)
        return Routed({})
    ids = {r.smsc_message_id for r in receipts}
    found = {i: known[i] for i in ids if i in known}
    search = holders(shards, [r for r in receipts if r.smsc_message_id not in found])
    found.update(search.found)
    by_shard: dict[str, list[Receipt]] = {name: [] for name in shards}
    failed: set[str] = set()
    nowhere = 0
    for receipt in receipts:
        shard = found.get(receipt.smsc_message_id)
        if shard in by_shard:
            by_shard[shard].append(receipt)
        elif not search.every_shard_asked:  # it may be on the shard that did not answer
            failed.add(receipt.smsc_message_id)
        else:
            nowhere += 1
            for kept in by_shard.values():
                kept.append(receipt)
    if nowhere:
        log.info(
            "%d delivery receipts match no MT part on any shard yet; kept on every shard "
            "until their part's SMSC id is stored",
            nowhere,
        )
    for name, on_shard in by_shard.items():
        try:
            record_receipts(shards[name](), on_shard)
        except Exception:
            log.exception("%d delivery receipts not recorded on shard %s", len(on_shard), name)
            failed.update(r.smsc_message_id for r in on_shard)
    return Routed({i: s for i, s in found.items() if i not in failed}, frozenset(failed))


@dataclass(frozen=True, slots=True)
class Search:
    found: dict[str, str]
    """The shard holding each SMSC id found."""
    every_shard_asked: bool
    """False when a shard could not be asked (an id not found may be there)."""


def holders(shards: Mapping[str, UowFactory], receipts: Sequence[Receipt]) -> Search:
    """The shard holding the part (or the pre-parts MT) of each receipt's SMSC id. Each
    shard is asked by applying the receipts in a transaction that is rolled back: the
    receipts' own rules say what matches (a part awaiting its receipt, a part already
    settled: a repeat), and nothing changes."""
    found: dict[str, str] = {}
    asked = True
    for name, new_uow in shards.items():
        wanted = [r for r in receipts if r.smsc_message_id not in found]
        if not wanted:
            break
        try:
            held = _held(new_uow(), wanted)
        except Exception:
            log.exception("shard %s could not be asked for %d receipts' parts", name, len(wanted))
            asked = False
            continue
        found.update(dict.fromkeys(held, name))
    return Search(found, asked)


def _held(uow: UnitOfWork, receipts: Sequence[Receipt]) -> set[str]:
    """The SMSC ids of ``receipts`` this shard holds, by applying them and rolling back."""
    with uow:
        outbox = uow.messages.outbox
        held = set(outbox.settle_parts(receipts))
        held |= outbox.settled_ids([r.smsc_message_id for r in receipts])
        for r in receipts:
            if r.smsc_message_id in held:
                continue
            if uow.messages.apply_receipt(r.smsc_message_id, r.delivered, r.at) is not None:
                held.add(r.smsc_message_id)
        uow.rollback()
    return held

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
not hold its part.

With one database there is nothing to route: receipts are recorded there, as always.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from vasguard.domain.messages import Receipt
from vasguard.services.outbox import record_receipts
from vasguard.services.shards import UowFactory

log = logging.getLogger(__name__)


def record_on_shards(
    shards: Mapping[str, UowFactory], receipts: Sequence[Receipt], known: Mapping[str, str]
) -> dict[str, str]:
    """Apply (or keep) each receipt on its part's shard, committed before this returns;
    the shard found for each SMSC id, ``known`` ones included (the caller remembers
    them). Raises what a shard's commit raised: the receipts are then acknowledged with a
    temporary error, redelivered, and routed again."""
    if len(shards) == 1:
        [only] = shards.values()
        record_receipts(only(), receipts)
        return {}
    ids = {r.smsc_message_id for r in receipts}
    found = {i: known[i] for i in ids if i in known}
    found.update(holders(shards, [r for r in receipts if r.smsc_message_id not in found]))
    by_shard: dict[str, list[Receipt]] = {name: [] for name in shards}
    nowhere = 0
    for receipt in receipts:
        shard = found.get(receipt.smsc_message_id)
        if shard in by_shard:
            by_shard[shard].append(receipt)
            continue
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
        record_receipts(shards[name](), on_shard)
    return found


def holders(shards: Mapping[str, UowFactory], receipts: Sequence[Receipt]) -> dict[str, str]:
    """The shard holding the part (or the pre-parts MT) of each receipt's SMSC id, for
    the ids some shard holds. Each shard is asked by applying the receipts in a
    transaction that is rolled back: the receipts' own rules say what matches (a part
    awaiting its receipt, a part already settled: a repeat), and nothing changes."""
    found: dict[str, str] = {}
    for name, new_uow in shards.items():
        wanted = [r for r in receipts if r.smsc_message_id not in found]
        if not wanted:
            break
        with new_uow() as uow:
            outbox = uow.messages.outbox
            held = set(outbox.settle_parts(wanted))
            held |= outbox.settled_ids([r.smsc_message_id for r in wanted])
            held |= {
                r.smsc_message_id
                for r in wanted
                if r.smsc_message_id not in held
                and uow.messages.apply_receipt(r.smsc_message_id, r.delivered, r.at) is not None
            }
            uow.rollback()
        found.update(dict.fromkeys(held, name))
    return found

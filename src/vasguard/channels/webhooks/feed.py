"""Which feed a process serves: the national database's own, or every shard's.

The HTTP feed route, the webhook routes and the dispatcher take it from here, so a
sharded deployment reads and numbers its events on the shards while the webhooks stay
on the national database.
"""

from __future__ import annotations

from vasguard.bootstrap import Runtime
from vasguard.services.partner_feed import Feed, LocalFeed
from vasguard.services.sharded_feed import ShardedFeed


def feed_of(rt: Runtime) -> Feed:
    """Unsharded: the one database's feed, exactly as it always was; sharded: the
    shards' events in the national order."""
    return sharded_feed(rt) or LocalFeed(rt.uow)


def sharded_feed(rt: Runtime) -> ShardedFeed | None:
    """The shards' feed (``services.sharded_feed``), or ``None`` when unsharded: the
    events are then in the national database beside the webhooks, read in the same
    transaction as today."""
    if not rt.shard_map.configured:
        return None
    return ShardedFeed(rt.uow, rt.shard_uows(), parallel=rt.settings.shard_parallelism)

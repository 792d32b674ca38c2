"""The partner feed of a sharded deployment: one national order of seqs over every shard.

Each shard keeps its own subscribers' events, so one partner's feed is spread over all of
them, yet a partner pages it with one integer ``after``. So the seqs come from a single
national counter (``partner_feed_counter``), one sequencer at a time (the named lock on
the national database). A round takes, shard by shard, up to a chunk of the shard's
unsequenced rows in id order, reserves that many seqs from the counter (committed before
the shard is written: a crash leaves a gap, never a seq given twice), writes them on the
shard and commits; after every shard of the round it publishes the counter's value as
the high-water mark. So a seq at or below the mark is committed on its shard.

Readers read the mark first, then ask every shard for the events after ``after`` up to
the mark and merge them by seq. Without the mark a reader could see a later shard's
higher seqs before an earlier shard's lower ones commit, and page past those for good.

A subscriber moved between shards (``store.moves``) has its events copied with their
seqs before they are deleted from the source: meanwhile a seq is on two shards, and the
merge keeps one (a seq is one event, nationally).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from vasguard.domain.partner_feed import SEQUENCER_LOCK, FeedEvent
from vasguard.services.partner_feed import SEQUENCE_CHUNK, Hold, NewUow
from vasguard.services.shards import ShardOutcome, UowFactory, on_every_shard, results


@dataclass(frozen=True, slots=True)
class ShardedFeed:
    """The events on ``shards``, numbered and published on ``national``."""

    national: NewUow
    shards: Mapping[str, UowFactory]
    parallel: int = 4
    chunk: int = SEQUENCE_CHUNK

    # --- the sequencer -----------------------------------------------------------------

    def sequence(self, hold: Hold) -> int:
        """Number what has committed unnumbered on every shard; how many rows. Cheap when
        there is nothing to do (a read a shard); skipped when another sequencer holds the
        lock. A shard that fails is left for the next pass; the others' rows are numbered
        and published, then its error is raised."""
        asked = on_every_shard(self.shards, _has_unsequenced, parallel=self.parallel)
        with self.national() as uow:
            started = uow.partner_feed.has_counter()
        if started and not any(o.result or not o.ok for o in asked):
            return 0
        with hold(SEQUENCER_LOCK) as taken:
            if not taken:
                return 0
            if not started:
                self._start_counter()
            return self._rounds()

    def _start_counter(self) -> None:
        """Start the counter above every seq the shards hold (a deployment split from one
        database keeps that database's seqs)."""
        highest = results(on_every_shard(self.shards, _max_seq, parallel=self.parallel))
        with self.national() as uow:
            if not uow.partner_feed.has_counter():
                uow.partner_feed.start_counter(max(highest, default=0))
                uow.commit()

    def _rounds(self) -> int:
        total = 0
        failed: list[ShardOutcome[int]] = []
        full = True
        while full:
            full = False
            for name, new_uow in self.shards.items():
                if any(f.shard == name for f in failed):
                    continue
                try:
                    numbered = self._number_shard(new_uow)
                except Exception as failure:  # raised once the others are published
                    failed.append(ShardOutcome(name, failure=failure))
                    continue
                total += numbered
                full = full or numbered == self.chunk
            with self.national() as uow:
                uow.partner_feed.publish()
                uow.commit()
        results(failed)
        return total

    def _number_shard(self, new_uow: UowFactory) -> int:
        """One chunk of one shard: its ids, their seqs reserved nationally (and committed
        there first), then written on the shard."""
        with new_uow() as shard:
            ids = shard.partner_feed.unsequenced(self.chunk)
            if not ids:
                return 0
            with self.national() as uow:
                first = uow.partner_feed.reserve(len(ids))
                uow.commit()
            shard.partner_feed.number(ids, first=first)
            shard.commit()
        return len(ids)

    # --- readers -------------------------------------------------------------------------

    def mark(self) -> int:
        """The published high-water mark: every seq up to it is committed on its shard."""
        with self.national() as uow:
            return uow.partner_feed.high_water()

    def page(self, provider_id: int, after: int, limit: int) -> list[FeedEvent]:
        """The provider's events after ``after`` up to the mark, from every shard, merged
        by seq (a seq found on two shards, a move under way, once)."""
        through = self.mark()
        if through <= after:
            return []

        def read(_name: str, new_uow: UowFactory) -> list[FeedEvent]:
            with new_uow() as uow:
                return uow.partner_feed.page(provider_id, after, limit, through=through)

        shards = results(on_every_shard(self.shards, read, parallel=self.parallel))
        merged = heapq.merge(*shards, key=lambda e: e.seq)
        return list(islice(_once(merged), limit))

    def last_seq(self, provider_id: int) -> int:
        return self._last_seqs([provider_id]).get(provider_id, 0)

    def due(self, at: datetime, limit: int) -> list[int]:
        """The webhooks not backing off (national) whose provider has an event past the
        cursor on some shard, up to the mark."""
        with self.national() as uow:
            ready = uow.partner_feed.ready_webhooks(at)
        if not ready:
            return []
        last = self._last_seqs([w.provider_id for w in ready])
        due = [w.provider_id for w in ready if last.get(w.provider_id, 0) > w.delivered_seq]
        return due[:limit]

    def _last_seqs(self, provider_ids: list[int]) -> dict[int, int]:
        """Each provider's last seq up to the mark, over every shard."""
        through = self.mark()

        def read(_name: str, new_uow: UowFactory) -> dict[int, int]:
            with new_uow() as uow:
                return uow.partner_feed.last_seqs(provider_ids, through=through)

        last: dict[int, int] = {}
        for found in results(on_every_shard(self.shards, read, parallel=self.parallel)):
            for provider_id, seq in found.items():
                last[provider_id] = max(seq, last.get(provider_id, 0))
        return last


def _has_unsequenced(_name: str, new_uow: UowFactory) -> bool:
    with new_uow() as uow:
        return uow.partner_feed.has_unsequenced()


def _max_seq(_name: str, new_uow: UowFactory) -> int:
    with new_uow() as uow:
        return uow.partner_feed.max_seq()


def _once(events: Iterator[FeedEvent]) -> Iterator[FeedEvent]:
    """Events in seq order, each seq once."""
    last: int | None = None
    for event in events:
        if event.seq != last:
            yield event
            last = event.seq

"""The partner change feed and its webhooks on three shards (PostgreSQL).

The events are written on each subscriber's shard; the feed must number them in one
national order (the counter on the national database), show each once however it is
paged, never page past a row another shard commits later (the published mark), and the
dispatcher must push every shard's events to the partner's webhook in that order.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from access_keys import KeyedClient, bearer, issue_keys
from sqlalchemy import Engine, select, update
from test_sharded import (
    NUMBERS,
    PROVINCES,
    SHARDS,
    Deployment,
    _order_and_confirm,
    deployment,
)
from test_webhooks import SECRET, Receiver

from vasguard.channels.http.app import create_app
from vasguard.channels.webhooks.dispatcher import WebhookDispatcher
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.partner_feed import SEQUENCER_LOCK
from vasguard.services.partner_feed import sequence_feed
from vasguard.services.sharded_feed import ShardedFeed
from vasguard.store import moves, tables
from vasguard.store.locks import holding
from vasguard.store.moves import MoveRefused, move_subscriber
from vasguard.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.xdist_group("sharded")

__all__ = ["deployment"]  # the fixture, imported for pytest to find

PARTNER = "partner"  # the key of the world's provider 801001, which owns 8010000x
SERVICES = ("80100001", "80100002")


def _confirm_everyone(d: Deployment, service: str = "80100001") -> None:
    """Every number of the three provinces orders ``service`` and confirms: two events on
    each shard."""
    for province in PROVINCES:
        for msisdn in NUMBERS[province]:
            _order_and_confirm(d.sharded, msisdn, service)


def _feed(client: KeyedClient, after: int = 0, limit: int = 100) -> Any:
    got = client.get(
        "/api/v1/partner/events",
        params={"after": after, "limit": limit},
        headers=bearer(client.keys[PARTNER]),
    )
    assert got.status_code == 200, got.text
    return got.json()


def _seqs_on(engine: Engine) -> dict[int, int | None]:
    """Each partner event's seq on one database, by row id."""
    e = tables.partner_events.c
    with engine.connect() as conn:
        return {r.id: r.seq for r in conn.execute(select(e.id, e.seq))}


def _counter(d: Deployment) -> tuple[int, int]:
    c = tables.partner_feed_counter.c
    with d.sharded.engine.connect() as conn:
        row = conn.execute(select(c.reserved, c.published)).one()
    return row.reserved, row.published


def _sharded_feed(d: Deployment) -> ShardedFeed:
    feed = d.sharded.partner_feed()
    assert isinstance(feed, ShardedFeed)
    return feed


def _hold(d: Deployment) -> Any:
    return lambda name: holding(d.sharded.engine, name)


def test_every_shards_events_are_in_one_order_once_however_the_feed_is_paged(deployment):
    d = deployment
    for service in SERVICES:
        _confirm_everyone(d, service)
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "31")) as client:
        whole = _feed(client)
        pages, after = [], 0
        while True:
            page = _feed(client, after=after, limit=2)
            pages.append(page)
            after = page["next_after"]
            if not page["more"]:
                break
    events = whole["events"]
    seqs = [e["seq"] for e in events]
    assert len(events) == 12 and seqs == sorted(seqs) and len(set(seqs)) == 12
    told = sorted((e["msisdn"], e["service"]) for e in events)
    every = [n for p in PROVINCES for n in NUMBERS[p]]
    assert told == sorted((n, s) for n in every for s in SERVICES)
    assert [e for p in pages for e in p["events"]] == events  # limit 2: each once, in order
    assert len(pages) == 6 and all(len(p["events"]) == 2 for p in pages)
    assert whole["more"] is False and whole["next_after"] == seqs[-1]
    # The rows are on their shards, numbered there, none twice; the national has none.
    on_shards = {name: _seqs_on(d.shards[name]) for name in SHARDS}
    assert all(len(rows) == 4 and None not in rows.values() for rows in on_shards.values())
    assert sorted(s for rows in on_shards.values() for s in rows.values()) == seqs
    assert _seqs_on(d.sharded.engine) == {}
    assert _counter(d) == (seqs[-1], seqs[-1])


def test_a_row_committed_on_a_shard_after_a_page_is_on_the_next_page(deployment):
    d = deployment
    _confirm_everyone(d)
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "31")) as client:
        first = _feed(client)
        assert len(first["events"]) == 6
        # East is numbered first in a round: numbered on its own it would get a seq below
        # north's and west's, and a reader resuming after their last would never see it.
        late = NUMBERS["31"][0]
        _order_and_confirm(d.sharded, late, "80100002")
        second = _feed(client, after=first["next_after"])
    [event] = second["events"]
    assert (event["msisdn"], event["service"]) == (late, "80100002")
    assert event["seq"] > max(e["seq"] for e in first["events"])
    assert event["seq"] in _seqs_on(d.shards["east"]).values()


def test_a_reader_stops_at_the_mark_so_a_shard_committing_late_is_not_paged_past(deployment):
    """A sequencer round caught half way, by hand: east's seq reserved first but written
    last. A reader in between must not see west's higher seq, or it would page past
    east's for good."""
    d = deployment
    _confirm_everyone(d)
    feed = _sharded_feed(d)
    assert feed.sequence(_hold(d)) == 6
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "31")) as client:
        before = _feed(client)
        for msisdn in (NUMBERS["31"][1], NUMBERS["51"][1]):
            _order_and_confirm(d.sharded, msisdn, "80100002")
        east, west = (SqlUnitOfWork(d.shards[name]) for name in ("east", "west"))
        with holding(d.sharded.engine, SEQUENCER_LOCK) as sequencing, east, west:
            assert sequencing  # the page's own sequencing waits its turn, as it would
            east_ids = east.partner_feed.unsequenced(10)
            west_ids = west.partner_feed.unsequenced(10)
            with d.sharded.uow() as national:
                east_seq = national.partner_feed.reserve(len(east_ids))
                west_seq = national.partner_feed.reserve(len(west_ids))
                national.commit()
            west.partner_feed.number(west_ids, first=west_seq)
            west.commit()
            mid_round = _feed(client, after=before["next_after"])
            east.partner_feed.number(east_ids, first=east_seq)
            east.commit()
        with d.sharded.uow() as national:
            national.partner_feed.publish()
            national.commit()
        after_round = _feed(client, after=mid_round["next_after"])
    assert east_seq < west_seq
    assert mid_round == {"events": [], "next_after": before["next_after"], "more": False}
    assert [(e["seq"], e["msisdn"]) for e in after_round["events"]] == [
        (east_seq, NUMBERS["31"][1]),
        (west_seq, NUMBERS["51"][1]),
    ]


def test_a_webhook_gets_every_shards_events_once_in_seq_order(deployment):
    d = deployment
    _confirm_everyone(d)
    receiver = Receiver()
    try:
        with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "31")) as client:
            before = _feed(client)["events"]
            put = client.put(
                "/api/v1/partner/webhook",
                json={"url": receiver.url, "secret": SECRET},
                headers=bearer(client.keys[PARTNER]),
            )
            assert put.status_code == 200, put.text
        # A new webhook starts after the last seq across the shards: what came before is
        # in the feed, not posted.
        assert put.json()["delivered_seq"] == before[-1]["seq"]
        _confirm_everyone(d, "80100002")
        dispatcher = WebhookDispatcher(
            d.sharded.uow,
            d.sharded.clock(),
            d.sharded.engine,
            batch=2,
            rng=random.Random(1),
            feed=d.sharded.partner_feed(),
        )
        outcomes = asyncio.run(dispatcher.run_once())
        again = asyncio.run(dispatcher.run_once())
    finally:
        receiver.close()
    got = receiver.accepted()
    seqs = [e["seq"] for e in got]
    assert len(got) == 6 and seqs == sorted(seqs) and len(set(seqs)) == 6
    assert all(s > before[-1]["seq"] for s in seqs)
    every = [n for p in PROVINCES for n in NUMBERS[p]]
    assert sorted(e["msisdn"] for e in got) == sorted(every)
    assert {e["service"] for e in got} == {"80100002"}
    assert len(receiver.received) == 3  # batches of 2
    [outcome] = outcomes.values()
    assert (outcome.delivered, outcome.error) == (6, None)
    assert again == {}  # nothing pending: the dispatcher asked the shards
    w = tables.webhooks.c
    with d.sharded.engine.connect() as conn:
        delivered = conn.scalar(select(w.delivered_seq))
    last = max(s for name in SHARDS for s in _seqs_on(d.shards[name]).values() if s)
    assert delivered == seqs[-1] == last


def test_a_seq_on_two_shards_half_way_through_a_copy_is_told_once(deployment):
    d = deployment
    _confirm_everyone(d)
    feed = _sharded_feed(d)
    feed.sequence(_hold(d))
    mover = NUMBERS["31"][0]
    # A copy that keeps the seqs (a split, or a move that kept them), caught between the
    # copy and the delete: the same rows, seqs and all, on two shards.
    with d.shards["east"].connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(tables.partner_events))]
    copied = [r for r in rows if f'"{mover}"' in r["payload"]]
    assert len(copied) == 1
    with d.shards["north"].begin() as conn:
        conn.execute(tables.partner_events.insert(), copied)
    provider = copied[0]["provider_id"]
    seqs = [ev.seq for ev in feed.page(provider, 0, 100)]
    assert len(seqs) == 6 and seqs == sorted(set(seqs))
    assert copied[0]["seq"] in seqs


def test_a_moved_subscribers_events_keep_their_seqs_and_are_told_once(deployment):
    """``move_subscriber`` copies a moved subscriber's events with their seqs (one national
    counter: no seq meets another on the target), so a partner who read them is not told
    them again, and the subscriber's events after the move follow on the new shard."""
    d = deployment
    _confirm_everyone(d)
    feed = _sharded_feed(d)
    feed.sequence(_hold(d))
    mover = NUMBERS["31"][0]
    provider = next(iter(_providers(d)))
    read = feed.page(provider, 0, 100)
    old = next(ev.seq for ev in read if ev.payload["msisdn"] == mover)
    moved = _to_north(d, mover)
    assert moved.rows["partner_events"] == 1
    assert feed.sequence(_hold(d)) == 0  # nothing to number again
    assert feed.page(provider, read[-1].seq, 100) == []
    assert old in _seqs_on(d.shards["north"]).values()
    assert old not in _seqs_on(d.shards["east"]).values()
    assert feed.page(provider, 0, 100) == read
    _order_and_confirm(d.sharded, mover, "80100002")  # on north now
    feed.sequence(_hold(d))
    [new] = feed.page(provider, read[-1].seq, 100)
    assert new.payload["msisdn"] == mover and new.seq in _seqs_on(d.shards["north"]).values()


def test_a_move_waits_for_the_sequencer_and_is_finished_when_run_again_if_it_never_frees(
    deployment, monkeypatch
):
    d = deployment
    _confirm_everyone(d)
    mover = NUMBERS["31"][0]
    monkeypatch.setattr(moves, "POLLS", 2)
    with holding(d.sharded.engine, SEQUENCER_LOCK) as sequencing:
        assert sequencing
        with pytest.raises(MoveRefused, match="sequencer"):
            _to_north(d, mover)
    s = tables.subscribers.c
    with d.shards["north"].connect() as conn:
        assert conn.scalar(select(s.id).where(s.msisdn == mover)) is None
    with d.shards["east"].connect() as conn:  # left moving: its MOs wait, as for a cut move
        assert conn.scalar(select(s.status).where(s.msisdn == mover)) == "moving"
    again = _to_north(d, mover)
    assert again.resumed and again.rows["subscribers"] == 1
    with d.shards["north"].connect() as conn:
        assert conn.scalar(select(s.status).where(s.msisdn == mover)) == "active"


def _to_north(d: Deployment, msisdn: str):
    """Move ``msisdn``'s subscriber to the north shard, a subscriber of Beijing."""
    return move_subscriber(
        d.sharded.engine,
        d.shards,
        d.sharded.shard_map,
        msisdn=msisdn,
        to="north",
        province="11",
        at=d.sharded.clock().now(),
        cause=Cause(CauseKind.API, "test"),
    )


def _providers(d: Deployment) -> set[int]:
    e = tables.partner_events.c
    found: set[int] = set()
    for engine in d.shards.values():
        with engine.connect() as conn:
            found |= set(conn.scalars(select(e.provider_id)))
    return found


def test_the_counter_starts_above_the_seqs_the_shards_already_hold(deployment):
    """A deployment split from one database keeps that database's seqs: the national
    counter starts above the highest, so none is given twice."""
    d = deployment
    _confirm_everyone(d)
    east = d.sharded.shard_uows()["east"]
    assert sequence_feed(east, lambda name: holding(d.shards["east"], name)) == 2
    kept = _seqs_on(d.shards["east"])
    assert sorted(kept.values()) == [1, 2]  # as the single database numbered them
    feed = _sharded_feed(d)
    assert feed.sequence(_hold(d)) == 4
    assert _seqs_on(d.shards["east"]) == kept
    given = sorted(s for name in SHARDS for s in _seqs_on(d.shards[name]).values() if s)
    assert given == [1, 2, 3, 4, 5, 6]
    assert _counter(d) == (6, 6)
    assert feed.sequence(_hold(d)) == 0  # nothing left: one read a shard


def test_a_shard_that_fails_to_be_numbered_holds_back_only_its_own_rows(deployment):
    d = deployment
    feed = _sharded_feed(d)
    assert feed.sequence(_hold(d)) == 0 and _counter(d) == (0, 0)  # the counter started
    _confirm_everyone(d)

    def north_away() -> SqlUnitOfWork:
        raise ConnectionError("north shard lost")

    broken = ShardedFeed(d.sharded.uow, {**d.sharded.shard_uows(), "north": north_away})
    with pytest.raises(ConnectionError):
        broken.sequence(_hold(d))
    numbered = {n: sorted(s for s in _seqs_on(d.shards[n]).values() if s) for n in SHARDS}
    assert numbered == {"east": [1, 2], "north": [], "west": [3, 4]}
    assert _counter(d) == (4, 4)  # east's and west's, published
    assert feed.sequence(_hold(d)) == 2
    assert sorted(s for s in _seqs_on(d.shards["north"]).values() if s) == [5, 6]
    with d.sharded.engine.begin() as conn:  # a reader stops at the mark
        conn.execute(update(tables.partner_feed_counter).values(published=4))
    [provider] = _providers(d)
    assert [e.seq for e in feed.page(provider, 0, 100)] == [1, 2, 3, 4]

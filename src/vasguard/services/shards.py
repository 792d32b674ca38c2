"""Batch work on every shard at once, and one answer for the deployment.

Each shard is a whole vasguard database for its provinces, so a job runs on it exactly
as on a single database — its own bill-run record and resume cursor, its own named lock —
and the shards' runs only need starting together and summing. A shard that fails is
reported with its error; the others keep their results, and running the job again
resumes the failed shard alone (a finished shard's bill run is found finished, its
reminders already queued). With one shard this is the job itself, in this thread.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

from vasguard.domain.refusals import Refused
from vasguard.services.unit_of_work import UnitOfWork

T = TypeVar("T")
S = TypeVar("S")  # what a shard's work is handed: usually its unit-of-work factory

# How a shard is reached: a new unit of work on its database, each time it is called.
UowFactory = Callable[[], UnitOfWork]


class Router(Protocol):
    """Where a subscriber's records are: the shard of a number, a unit of work on it."""

    def shard_of(self, msisdn: str) -> str | None: ...

    def uow_on(self, shard: str | None) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class ShardOutcome(Generic[T]):
    """What the job came to on one shard: its result, or why it stopped."""

    shard: str
    result: T | None = None
    failure: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def error(self) -> str | None:
        failure = self.failure
        return None if failure is None else f"{type(failure).__name__}: {failure}"


def on_every_shard(
    shards: Mapping[str, S],
    work: Callable[[str, S], T],
    *,
    parallel: int,
) -> list[ShardOutcome[T]]:
    """``work(name, new_uow)`` on every shard, ``parallel`` at a time; outcomes in the
    shards' order. An exception on one shard is its outcome, not the call's."""
    if parallel < 1:
        raise ValueError("at least one shard at a time")

    def attempt(name: str) -> ShardOutcome[T]:
        try:
            return ShardOutcome(name, result=work(name, shards[name]))
        except Exception as failed:  # reported per shard; the other shards go on
            return ShardOutcome(name, failure=failed)

    names = list(shards)
    if len(names) == 1 or parallel == 1:
        return [attempt(name) for name in names]
    with ThreadPoolExecutor(
        max_workers=min(parallel, len(names)), thread_name_prefix="shard"
    ) as pool:
        return list(pool.map(attempt, names))


class ShardsFailed(RuntimeError):
    """Work that needed every shard stopped on some: named, with their errors."""


def results(outcomes: list[ShardOutcome[T]]) -> list[T]:
    """Every shard's result, or what stopped a shard: a refusal or a single shard's error
    as it was raised (the scheduler and the channels tell those apart), several shards'
    errors as ``ShardsFailed`` naming them. Raised once all have run, so the other shards'
    work stands and a re-run resumes the failed ones."""
    failures = [(o, o.failure) for o in outcomes if o.failure is not None]
    for _outcome, failure in failures:
        if isinstance(failure, Refused) or len(failures) == 1:
            raise failure
    failed = [o for o, _failure in failures]
    if failed:
        raise ShardsFailed("; ".join(f"shard {o.shard}: {o.error}" for o in failed))
    return [cast(T, o.result) for o in outcomes]  # each ok, so each has its result


def locate(
    shards: Sequence[str],
    made_on: str | None,
    holds: Callable[[str], bool],
    *,
    parallel: int,
) -> str | None:
    """The shard holding a row addressed by its id: the shard that made it (``made_on``,
    from its id range) when it is there, which it nearly always is; otherwise (a row
    copied in by a split, or moved with its subscriber) whichever other shard holds it,
    asked at once. ``None``: no shard holds it (the caller's own lookup answers unknown)."""
    if made_on is not None and holds(made_on):
        return made_on
    others = {name: name for name in shards if name != made_on}
    if not others:
        return None
    found = on_every_shard(others, lambda name, _: holds(name), parallel=parallel)
    return next((o.shard for o in found if o.result), None)


def merged_page(
    shards: Mapping[str, UowFactory],
    page: Callable[[UnitOfWork], list[T]],
    key: Callable[[T], int],
    *,
    limit: int,
    parallel: int,
) -> list[T]:
    """The first ``limit`` rows by ``key`` over every shard, each shard asked for its own
    first ``limit`` after the same cursor. Ids are unique across shards (each makes them
    from its own range), so one id cursor pages the whole deployment; a row that a shard
    makes behind the cursor meanwhile is not shown, as a list is not a feed."""
    pages = results(on_every_shard(shards, lambda _, new_uow: page(new_uow()), parallel=parallel))
    return heapq.nsmallest(limit, (row for rows in pages for row in rows), key=key)

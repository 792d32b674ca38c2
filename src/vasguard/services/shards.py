"""Batch work on every shard at once, and one answer for the deployment.

Each shard is a whole vasguard database for its provinces, so a job runs on it exactly
as on a single database — its own bill-run record and resume cursor, its own named lock —
and the shards' runs only need starting together and summing. A shard that fails is
reported with its error; the others keep their results, and running the job again
resumes the failed shard alone (a finished shard's bill run is found finished, its
reminders already queued). With one shard this is the job itself, in this thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

from vasguard.domain.refusals import Refused
from vasguard.services.unit_of_work import UnitOfWork

T = TypeVar("T")

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
    shards: Mapping[str, UowFactory],
    work: Callable[[str, UowFactory], T],
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

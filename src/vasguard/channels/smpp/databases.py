"""The databases one SMPP engine serves: every shard, and the way to a sender's shard.

The binds are the operator's, one set for the whole platform, so one engine serves every
shard: an MO (or a part of a concatenated one) is taken on its sender's shard, each
shard's outbox is drained, and a receipt is applied where its part is. A number of no
province of ours has its MO kept, and refused, on the national database, which is then
one more database holding concatenated parts. Unsharded, all of it is the one database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from vasguard.domain.shards import SINGLE_SHARD
from vasguard.services.shards import Router, UowFactory
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class OneDatabase:
    """The ``Router`` of an unsharded deployment: every sender's shard is the database."""

    new_uow: UowFactory

    def shard_of(self, msisdn: str) -> str | None:
        return SINGLE_SHARD

    def uow_on(self, shard: str | None) -> UnitOfWork:
        return self.new_uow()


@dataclass(frozen=True, slots=True)
class Databases:
    router: Router
    shards: Mapping[str, UowFactory]
    """Each shard's unit-of-work factory by name: its outbox, its MOs, its receipts."""
    national_apart: bool = False
    """Whether ``router.uow_on(None)`` is a database besides the shards (sharded)."""

    @classmethod
    def one(cls, new_uow: UowFactory) -> Databases:
        return cls(OneDatabase(new_uow), {SINGLE_SHARD: new_uow})

    def holding_parts(self) -> dict[str | None, UowFactory]:
        """Every database concatenated MOs' parts may be kept on (for the sweep), by the
        name ``router.uow_on`` takes."""
        every: dict[str | None, UowFactory] = {name: f for name, f in self.shards.items()}
        if self.national_apart:
            every[None] = partial(self.router.uow_on, None)
        return every

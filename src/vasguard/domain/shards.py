"""The shard map: which PostgreSQL database holds which provinces' subscribers.

A number's segment gives its province (``msisdn.py``); this map gives the province's
database. A province never splits, so everything a subscriber owns stays on one shard.
With no map configured there is one shard, the national database itself (SQLite or a
single PostgreSQL), so nothing changes for a deployment that does not shard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from urllib.parse import urlsplit

from vasguard.domain.msisdn import load_provinces
from vasguard.domain.refusals import InvalidInput

# A shard's name becomes part of a subscription's and a replication slot's name, which
# PostgreSQL limits to lower-case letters, digits and underscores (63 bytes in all).
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_POSTGRESQL_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
SINGLE_SHARD = "main"

# Shard k (1-based, in the map's order) makes ids from k * ID_RANGE (``vasguard shards
# setup``): 10^14 ids a shard, and 90 shards stay below 2^53, the largest id the API's JSON
# promises exact. An id thus names the shard that made it; rows copied in by a split (ids
# below ID_RANGE) or a move keep theirs, so the name is where to look first, not a proof.
ID_RANGE = 10**14


class Addressed(StrEnum):
    """What an online request can name by its own key instead of a number: the shard is
    then found from the key (``ShardMap.maker_of``, ``services.shards.locate``)."""

    SUBSCRIPTION = "subscription"  # by id
    CHARGE = "charge"  # by id
    COMPLAINT = "complaint"  # by ticket
    BILL_RUN = "bill_run"  # by id: a shard's own run of a period


class InvalidShardMap(InvalidInput):
    """The configured shards do not split the provinces cleanly over PostgreSQL databases."""

    code = "invalid_shard_map"


@cache
def province_codes() -> frozenset[str]:
    return frozenset(p.code for p in load_provinces())


@dataclass(frozen=True, slots=True)
class Shard:
    name: str
    url: str
    provinces: frozenset[str]


@dataclass(frozen=True, slots=True)
class ShardMap:
    """Shards that hold every province exactly once; ``configured`` is false for the
    default map of one database, which has nothing to replicate to."""

    shards: tuple[Shard, ...]
    configured: bool = True

    def __post_init__(self) -> None:
        _check_partition(self.shards)

    @classmethod
    def single(cls, url: str) -> ShardMap:
        """The default: one shard, the national database, holding every province."""
        return cls((Shard(SINGLE_SHARD, url, province_codes()),), configured=False)

    @classmethod
    def parse(cls, entries: Iterable[Mapping[str, object]]) -> ShardMap:
        """A configured map from ``{"name", "url", "provinces"}`` entries; each URL must
        name a PostgreSQL database, since the catalogue reaches it by logical replication."""
        return cls(tuple(_shard(entry) for entry in entries))

    def maker_of(self, row_id: int) -> str | None:
        """The shard whose id range ``row_id`` is in (``None``: below every range, or past
        the map's shards): where a row addressed by its id was made."""
        number = row_id // ID_RANGE
        if not self.configured or not 1 <= number <= len(self.shards):
            return None
        return self.shards[number - 1].name

    def shard_for(self, province: str) -> Shard:
        for shard in self.shards:
            if province in shard.provinces:
                return shard
        raise InvalidShardMap(f"province {province!r} is not one of this operator's provinces")


def _shard(entry: Mapping[str, object]) -> Shard:
    name, url, provinces = entry.get("name"), entry.get("url"), entry.get("provinces")
    if not isinstance(name, str):
        raise InvalidShardMap("every shard needs a name (text)")
    if not isinstance(url, str) or not _is_postgresql(url):
        raise InvalidShardMap(
            f"shard {name!r}: url must name a PostgreSQL database (postgresql://host/db)"
        )
    if not isinstance(provinces, list | tuple) or not all(isinstance(p, str) for p in provinces):
        raise InvalidShardMap(f"shard {name!r}: provinces must be a list of province codes")
    if not provinces:
        raise InvalidShardMap(f"shard {name!r} holds no province")
    return Shard(name, url, frozenset(provinces))


def _is_postgresql(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in _POSTGRESQL_SCHEMES and parts.path.strip("/") != ""


def _check_partition(shards: tuple[Shard, ...]) -> None:
    if not shards:
        raise InvalidShardMap("a shard map needs at least one shard")
    known = province_codes()
    holder: dict[str, str] = {}
    names: set[str] = set()
    for shard in shards:
        if not _NAME.fullmatch(shard.name):
            raise InvalidShardMap(
                f"shard name {shard.name!r}: lower-case letters, digits and underscores, "
                "starting with a letter, at most 40"
            )
        if shard.name in names:
            raise InvalidShardMap(f"two shards are named {shard.name!r}")
        names.add(shard.name)
        unknown = sorted(shard.provinces - known)
        if unknown:
            raise InvalidShardMap(
                f"shard {shard.name!r}: {unknown[0]!r} is not a province code "
                f"(the codes are {', '.join(sorted(known))})"
            )
        for province in sorted(shard.provinces):
            if province in holder:
                raise InvalidShardMap(
                    f"province {province} is in shards {holder[province]!r} and "
                    f"{shard.name!r}: a province lives on one shard"
                )
            holder[province] = shard.name
    missing = sorted(known - holder.keys())
    if missing:
        raise InvalidShardMap(
            f"province{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            "in no shard: every province needs one"
        )

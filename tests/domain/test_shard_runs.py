"""Work on every shard at once, without a database: each shard's outcome, and which
failure the caller hears (services/shards.py)."""

from __future__ import annotations

import pytest

from vasguard.domain.refusals import InvalidInput
from vasguard.services.shards import ShardsFailed, on_every_shard, results

SHARDS = {"east": lambda: None, "north": lambda: None, "west": lambda: None}


def work(fails: dict[str, Exception]):
    def run(name, _new_uow):
        if name in fails:
            raise fails[name]
        return name.upper()

    return run


def test_every_shard_runs_and_one_failure_does_not_stop_the_others():
    done = on_every_shard(SHARDS, work({"north": ConnectionError("lost")}), parallel=3)
    assert [(o.shard, o.ok, o.result) for o in done] == [
        ("east", True, "EAST"),
        ("north", False, None),
        ("west", True, "WEST"),
    ]
    assert done[1].error == "ConnectionError: lost"
    with pytest.raises(ConnectionError):  # a lone shard's error, as it was raised
        results(done)


def test_several_failures_name_their_shards_and_a_refusal_stays_one():
    lost = on_every_shard(SHARDS, work({"east": OSError("a"), "west": OSError("b")}), parallel=2)
    with pytest.raises(ShardsFailed, match="shard east: OSError: a; shard west: OSError: b"):
        results(lost)
    refused = on_every_shard(
        SHARDS, work({"east": OSError("a"), "west": InvalidInput("bad period")}), parallel=1
    )
    with pytest.raises(InvalidInput):
        results(refused)
    assert results(on_every_shard(SHARDS, work({}), parallel=3)) == ["EAST", "NORTH", "WEST"]
    with pytest.raises(ValueError):
        on_every_shard(SHARDS, work({}), parallel=0)

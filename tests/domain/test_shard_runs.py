"""Work on every shard at once, without a database: each shard's outcome, and which
failure the caller hears (services/shards.py)."""

from __future__ import annotations

import pytest

from vasguard.domain.refusals import InvalidInput
from vasguard.services.shards import ShardsFailed, locate, merged_page, on_every_shard, results

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


def test_a_row_is_looked_for_where_its_id_was_made_first_then_everywhere_else():
    asked: list[str] = []

    def holds(where: str) -> bool:
        asked.append(where)
        return where == "west"

    assert locate(list(SHARDS), "west", holds, parallel=2) == "west" and asked == ["west"]
    asked.clear()
    assert locate(list(SHARDS), "east", holds, parallel=1) == "west"  # moved there
    assert asked == ["east", "north", "west"]
    assert locate(list(SHARDS), None, lambda _: False, parallel=3) is None  # nowhere


def test_a_merged_page_is_the_first_rows_by_id_over_every_shard():
    rows = {"east": [1, 4, 9], "north": [2, 3], "west": [5, 6, 7]}
    shards = {name: (lambda name=name: name) for name in rows}

    def page(uow, after=0, limit=3):
        return [i for i in rows[uow] if i > after][:limit]

    assert merged_page(shards, page, lambda i: i, limit=3, parallel=3) == [1, 2, 3]
    after_three = merged_page(shards, lambda u: page(u, after=3), lambda i: i, limit=3, parallel=1)
    assert after_three == [4, 5, 6]

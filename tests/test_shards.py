"""The shard map without a database: parsing, every way a map can be wrong, the settings."""

from __future__ import annotations

import json
import os
import socket

import pytest
from typer.testing import CliRunner

from vasguard.bootstrap import Runtime
from vasguard.cli.main import app
from vasguard.config import ConfigError, load_settings
from vasguard.domain.shards import ID_RANGE, InvalidShardMap, Shard, ShardMap, province_codes

ALL = sorted(province_codes())
EAST, WEST = ALL[:15], ALL[15:]


def entry(name: str, provinces: list[str], url: str | None = None) -> dict[str, object]:
    return {
        "name": name,
        "url": url or f"postgresql://vg@db-{name}/vasguard",
        "provinces": provinces,
    }


TWO = [entry("east", EAST), entry("west", WEST)]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("VASGUARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_there_are_31_provinces_and_a_map_routes_each_to_its_one_shard():
    assert len(ALL) == 31
    shards = ShardMap.parse(TWO)
    assert shards.configured
    assert [s.name for s in shards.shards] == ["east", "west"]
    assert all(shards.shard_for(p).name == "east" for p in EAST)
    assert shards.shard_for(WEST[0]) == Shard(
        "west", "postgresql://vg@db-west/vasguard", frozenset(WEST)
    )


def test_the_default_is_one_database_holding_every_province_even_sqlite():
    single = ShardMap.single("sqlite:///vasguard.db")
    assert not single.configured
    [shard] = single.shards
    assert shard.url == "sqlite:///vasguard.db" and shard.provinces == frozenset(ALL)
    assert single.shard_for("31") is shard


def test_an_unknown_province_has_no_shard():
    with pytest.raises(InvalidShardMap, match="'99' is not one of this operator's provinces"):
        ShardMap.parse(TWO).shard_for("99")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "at least one shard"),
        ([entry("east", EAST), entry("west", WEST[1:])], f"province {WEST[0]} in no shard"),
        ([entry("east", EAST), entry("west", WEST[2:])], f"provinces {WEST[0]}, {WEST[1]} in no"),
        (
            [entry("east", EAST), entry("west", [EAST[3], *WEST])],
            f"province {EAST[3]} is in shards 'east' and 'west'",
        ),
        ([entry("east", [*EAST, "99"]), entry("west", WEST)], "'99' is not a province code"),
        ([entry("east", EAST), entry("east", WEST)], "two shards are named 'east'"),
        ([entry("East-1", ALL)], "shard name 'East-1': lower-case letters"),
        ([entry("a" * 41, ALL)], "at most 40"),
        ([entry("east", ALL, "sqlite:///east.db")], "url must name a PostgreSQL database"),
        ([entry("east", ALL, "mysql://h/db")], "url must name a PostgreSQL database"),
        ([entry("east", ALL, "postgresql://h")], "url must name a PostgreSQL database"),
        ([entry("east", ALL, "postgresql://[::1/db")], "url must name a PostgreSQL database"),
        ([{"url": "postgresql://h/db", "provinces": ALL}], "every shard needs a name"),
        ([entry("east", "31")], "provinces must be a list of province codes"),
        ([entry("east", [31])], "provinces must be a list of province codes"),
        ([entry("east", []), entry("west", ALL)], "shard 'east' holds no province"),
    ],
)
def test_a_map_that_does_not_split_the_provinces_cleanly_is_refused(entries, message):
    with pytest.raises(InvalidShardMap, match=message):
        ShardMap.parse(entries)


def test_vasguard_shards_is_json_and_the_runtime_hands_out_its_map(monkeypatch):
    monkeypatch.setenv("VASGUARD_SHARDS", json.dumps(TWO))
    shards = Runtime(load_settings()).shard_map
    assert shards == ShardMap.parse(TWO)


def test_no_shards_configured_is_one_shard_on_the_database_url(monkeypatch):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", "sqlite:///here.db")
    assert Runtime(load_settings()).shard_map == ShardMap.single("sqlite:///here.db")


def test_the_configuration_file_holds_shards_as_an_array_of_tables(tmp_path):
    def table(name: str, provinces: list[str]) -> str:
        return (
            f'[[shards]]\nname = "{name}"\nurl = "postgresql://vg@db-{name}/vasguard"\n'
            f"provinces = {json.dumps(provinces)}\n"
        )

    path = tmp_path / "vasguard.toml"
    path.write_text('timezone = "Asia/Shanghai"\n' + table("east", EAST) + table("west", WEST))
    assert load_settings(path).shard_map() == ShardMap.parse(TWO)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"name": "east"', "not JSON"),
        ('{"name": "east"}', "valid list"),
        (json.dumps([entry("east", EAST)]), "in no shard"),
        (json.dumps([entry("east", ALL, "postgresql://vg:s3cret@h")]), "PostgreSQL database"),
    ],
)
def test_a_bad_shard_map_is_one_line_naming_the_setting_and_exit_2(monkeypatch, value, message):
    monkeypatch.setenv("VASGUARD_SHARDS", value)
    with pytest.raises(ConfigError, match=message):
        load_settings()
    for command in (["shards", "list"], ["shards", "status"], ["shards", "setup"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        [line] = result.stderr.strip().splitlines()
        assert "invalid setting VASGUARD_SHARDS" in line and message in line
        assert "s3cret" not in result.output and "Traceback" not in result.output


def test_shards_list_shows_the_map_without_passwords(monkeypatch):
    secret = [entry("east", EAST, "postgresql://vg:s3cret@db-east/vasguard"), TWO[1]]
    monkeypatch.setenv("VASGUARD_SHARDS", json.dumps(secret))
    result = CliRunner().invoke(app, ["shards", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["configured"] is True
    assert listed["shards"][0] == {
        "name": "east",
        "url": "postgresql://vg:***@db-east/vasguard",
        "provinces": EAST,
    }
    human = CliRunner().invoke(app, ["shards", "list"])
    assert "s3cret" not in human.stdout and "west" in human.stdout


def test_without_shards_list_says_so_and_setup_and_status_refuse(monkeypatch, tmp_path):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    listed = CliRunner().invoke(app, ["shards", "list"])
    assert listed.exit_code == 0 and "no shards configured" in listed.stdout
    for command in ("setup", "status"):
        result = CliRunner().invoke(app, ["shards", command])
        assert result.exit_code == 2
        assert "no shards are configured" in result.stderr and "Traceback" not in result.output


def test_setup_and_status_refuse_a_national_database_that_cannot_publish(monkeypatch, tmp_path):
    monkeypatch.setenv("VASGUARD_SHARDS", json.dumps(TWO))
    monkeypatch.setenv("VASGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'national.db'}")
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    for command in ("setup", "status"):
        result = CliRunner().invoke(app, ["shards", command])
        assert result.exit_code == 2 and result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert "national database (VASGUARD_DATABASE_URL) must be PostgreSQL" in line


def test_a_national_database_that_does_not_answer_is_one_line(monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("VASGUARD_SHARDS", json.dumps(TWO))
    monkeypatch.setenv("VASGUARD_DATABASE_URL", f"postgresql://vg:s3cret@127.0.0.1:{port}/x")
    for command in ("setup", "status"):
        result = CliRunner().invoke(app, ["shards", command])
        assert result.exit_code == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: the national database: connection failed")
        assert "s3cret" not in result.output and "Traceback" not in result.output


def test_an_id_names_the_shard_of_its_range_and_none_outside_them():
    shards = ShardMap.parse(TWO)
    assert shards.maker_of(ID_RANGE + 5) == "east"
    assert shards.maker_of(2 * ID_RANGE + 1) == "west"
    assert shards.maker_of(5) is None  # made before the split: no range
    assert shards.maker_of(3 * ID_RANGE) is None
    assert ShardMap.single("sqlite:///x").maker_of(ID_RANGE + 5) is None

"""``vasguard keys``: a key is shown once, listed without its secret, revoked by name."""

import pytest
from typer.testing import CliRunner

from vasguard.cli.main import app
from vasguard.domain.access import parse_key
from vasguard.store import tables


@pytest.fixture
def cli(world, db_url, monkeypatch):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_create_list_revoke(cli, world):
    made = cli("keys", "create", "--role", "partner", "--name", "xingyun", "--provider", "801001")
    assert made.exit_code == 0, made.output
    token = made.stdout.split("keep it now): ")[1].strip()
    presented = parse_key(token)
    assert presented is not None
    listed = cli("keys", "list")
    assert "xingyun" in listed.stdout and "provider=801001" in listed.stdout
    assert presented.secret not in listed.stdout
    assert cli("keys", "revoke", "--name", "xingyun").exit_code == 0
    assert "revoked" in cli("keys", "list").stdout
    (row,) = world.rows(tables.api_keys)
    assert row["revoked_at"] is not None and row["created_by"] == "vasguard-cli"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "partner", "--name", "p"], "a partner key needs --provider CODE"),
        (["--role", "partner", "--name", "p", "--provider", "999"], "no provider '999'"),
        (["--role", "care", "--name", "c", "--provider", "801001"], "only a partner key"),
        (["--role", "care", "--name", "c", "--province", "99"], "no province '99'"),
        (["--role", "root", "--name", "c"], "root"),
    ],
)
def test_refused_keys_change_nothing(cli, world, args, message):
    result = cli("keys", "create", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert world.rows(tables.api_keys) == []


def test_names_are_unique_and_revoking_an_unknown_key_is_refused(cli, world):
    assert cli("keys", "create", "--role", "care", "--name", "desk").exit_code == 0
    again = cli("keys", "create", "--role", "gateway", "--name", "desk")
    assert again.exit_code == 2 and "exists already" in again.stderr
    gone = cli("keys", "revoke", "--name", "nobody")
    assert gone.exit_code == 2 and "no key named 'nobody'" in gone.stderr
    assert len(world.rows(tables.api_keys)) == 1

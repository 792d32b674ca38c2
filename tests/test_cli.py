"""The ``vasguard`` command against both stores, as a user would type it."""

import json

import pytest
from conftest import ALICE
from sqlalchemy import text
from typer.testing import CliRunner

from vasguard.cli.main import app
from vasguard.store import tables


@pytest.fixture
def run(world, db_url, monkeypatch):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args))

    return invoke


def test_order_and_confirm_by_sms_with_at(run, world):
    placed = run(
        "order", "--msisdn", ALICE, "--service", "80100001", "--at", "2026-11-24T10:00:00", "--json"
    )
    assert placed.exit_code == 0, placed.output
    order = json.loads(placed.stdout)
    assert order["confirm_by"].startswith("2026-11-25T02:00:00")
    reply = run("sms", "send", "--from", ALICE, f"是{order['code']}", "--at", "2026-11-24T10:05:00")
    assert reply.exit_code == 0 and "成功订购" in reply.stdout
    row = world.rows(tables.subscriptions)[0]
    assert row["state"] == "active"
    assert row["confirmed_at"].isoformat() == "2026-11-24T02:05:00+00:00"


def test_expire_job_takes_at(run, world):
    run("order", "--msisdn", ALICE, "--service", "80100001", "--at", "2026-11-24T10:00:00")
    assert "0 orders expired" in run("jobs", "expire", "--at", "2026-11-25T09:59:59").stdout
    assert "1 orders expired" in run("jobs", "expire", "--at", "2026-11-25T10:00:00").stdout


def test_figures_job_recounts_the_days_it_is_given(run, world):
    run("order", "--msisdn", ALICE, "--service", "80100001", "--at", "2026-11-24T10:00:00")
    done = run("jobs", "figures", "--at", "2026-11-25T10:00:00", "--days", "2", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "first_day": "2026-11-24",
        "last_day": "2026-11-25",
        "rows": 1,
    }
    f = tables.daily_figures.c
    orders = world.rows(tables.daily_figures, f.orders > 0, f.day.like("2026-%-%"))
    assert {(r["day"], r["orders"]) for r in orders} == {("2026-11-24", 1)}
    refused = run("jobs", "figures", "--days", "0")
    assert refused.exit_code == 2 and "Traceback" not in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["order", "--msisdn", "12345", "--service", "80100001"], "not a mobile number"),
        (["order", "--msisdn", "13999999999", "--service", "80100001"], "not a subscriber"),
        (["order", "--msisdn", ALICE, "--service", "NOPE"], "no service with code"),
        (["order", "--msisdn", ALICE, "--service", "90000002"], "included in"),
        (["order", "--msisdn", ALICE, "--service", "80100001", "--at", "soon"], "ISO-8601"),
        (["sms", "send", "--from", "13999999999", "0000"], "not a subscriber"),
        (["sms", "inbox", "--msisdn", "13999999999"], "not a subscriber"),
    ],
)
def test_user_errors_are_one_clear_line_and_change_nothing(run, world, args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert world.rows(tables.subscriptions) == []


def test_sms_send_prints_replies_and_inbox_reads_them_back(run):
    run("order", "--msisdn", ALICE, "--service", "80100001", "--at", "2026-11-24T10:00:00")
    run("sms", "send", "--from", ALICE, "是", "--at", "2026-11-24T10:01:00")
    listing = run("sms", "send", "--from", ALICE, "0000", "--at", "2026-11-24T10:02:00")
    assert "1.天气预报" in listing.stdout
    inbox = json.loads(run("sms", "inbox", "--msisdn", ALICE, "--json").stdout)
    assert inbox[-1]["kind"] == "listing" and inbox[-1]["status"] == "delivered"


def test_texts_are_printed_as_they_are_not_as_markup(run):
    run("sms", "send", "--from", ALICE, "[bold]hi[/bold]", "--at", "2026-11-24T10:00:00")
    inbox = run("sms", "inbox", "--msisdn", ALICE).stdout
    assert "[received] [bold]hi[/bold]" in inbox
    assert "[delivered]" in inbox


def _counts(world):
    return {
        t.name: len(world.rows(t))
        for t in (tables.subscriptions, tables.messages, tables.events, tables.bill_runs)
    }


# Every command that takes --at, with the other options it needs to get that far.
AT_COMMANDS = [
    ["order", "--msisdn", ALICE, "--service", "80100001"],
    ["sms", "send", "--from", ALICE, "0000"],
    ["jobs", "expire"],
    ["jobs", "bill", "--period", "2026-11"],
    ["jobs", "reminders"],
    ["jobs", "figures"],
    ["plan", "order", "--msisdn", ALICE, "--plan", "P58"],
    ["complaint", "resolve", "--ticket", "TS2611240000001"],
    ["refund", "--charge", "1"],
    ["data", "generate", "--subscribers", "1"],
]


@pytest.mark.parametrize("command", AT_COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("at", ["junk", "2026-02-30T10:00", ""])
def test_a_bad_at_is_one_clear_line_exit_2_and_changes_nothing(run, world, command, at):
    before = _counts(world)
    result = run(*command, "--at", at)
    assert result.exit_code == 2, result.output
    assert "--at" in result.stderr and "ISO-8601" in result.stderr
    assert "Traceback" not in result.output
    assert _counts(world) == before


@pytest.mark.parametrize("command", [["jobs", "bill"], ["audit"]])
@pytest.mark.parametrize("period", ["junk", "2026-13", "9999-12", "0001-01", "26-11"])
def test_a_bad_period_is_one_clear_line_exit_2_and_changes_nothing(run, world, command, period):
    before = _counts(world)
    result = run(*command, "--period", period)
    assert result.exit_code == 2, result.output
    assert "billing period" in result.stderr
    assert "Traceback" not in result.output
    assert _counts(world) == before


def test_a_future_period_is_billed_only_when_simulating(run, world):
    refused = run("jobs", "bill", "--period", "2999-01", "--at", "2999-01-05T10:00")
    assert refused.exit_code == 2 and "--simulate" in refused.stderr
    assert world.rows(tables.bill_runs) == []
    simulated = run(
        "jobs", "bill", "--period", "2999-01", "--at", "2999-01-05T10:00", "--simulate", "--json"
    )
    assert simulated.exit_code == 0, simulated.output
    assert json.loads(simulated.stdout)["period"] == "2999-01"


def test_an_mo_to_a_number_that_is_not_ours_is_stored_and_refused(run, world):
    result = run("sms", "send", "--from", ALICE, "--to", "99999", "0000")
    assert result.exit_code == 2
    assert "not the service number" in result.stderr and "Traceback" not in result.output
    (mo,) = world.rows(tables.messages)
    assert mo["service_number"] == "99999" and mo["text"] == "0000"
    assert world.rows(tables.listings) == [] and world.rows(tables.events) == []


def test_a_database_newer_than_the_code_is_refused_by_every_command(run, world):
    with world.engine.begin() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    commands = (
        ["db", "upgrade"],
        ["sms", "send", "--from", ALICE, "0000"],
        ["audit", "--period", "2026-11"],
    )
    try:
        for command in commands:
            result = run(*command)
            assert result.exit_code == 2, (command, result.output)
            assert "newer release" in result.stderr and "Traceback" not in result.output
        assert world.rows(tables.messages) == []
    finally:  # the PostgreSQL test database is shared by the tests of one process
        with world.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


def test_report_prints_a_periods_figures_per_province_and_partner(run, world):
    run("order", "--msisdn", ALICE, "--service", "80100001", "--at", "2026-11-24T10:00:00")
    run("sms", "send", "--from", ALICE, "是", "--at", "2026-11-24T10:01:00")
    provinces = run("report", "provinces", "--period", "2026-11", "--json")
    assert provinces.exit_code == 0, provinces.output
    [line] = json.loads(provinces.stdout)["lines"]
    assert (line["orders"], line["confirmations"]) == (1, 1)
    partners = run("report", "partners", "--period", "2026-11")
    assert partners.exit_code == 0 and "801001" in partners.stdout
    assert run("report", "partners", "--period", "2026-13").exit_code == 2

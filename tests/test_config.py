"""Configuration: environment over TOML file over defaults; anything wrong is one line, exit 2."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_serve_logs import restore_logging  # noqa: F401 - a fixture
from typer.testing import CliRunner

from vasguard.bootstrap import Runtime
from vasguard.cli.main import app
from vasguard.config import ConfigError, Settings, load_settings
from vasguard.domain.clock import SystemClock


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No VASGUARD_* from the caller's shell or a .env in the working directory."""
    import os

    for name in [n for n in os.environ if n.startswith("VASGUARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vasguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_sets_what_the_environment_does_not(tmp_path, monkeypatch):
    path = toml(
        tmp_path,
        'http_port = 9000\nsmpp_host = "smsc.example"\nsmpp_system_id = "vas"\n'
        'smpp_password = "s3cret"\nsmpp_binds = 2\nreminder_interval_minutes = 2.5\n',
    )
    monkeypatch.setenv("VASGUARD_SMPP_BINDS", "4")
    s = load_settings(path)
    assert (s.http_port, s.smpp_host, s.smpp_binds, s.reminder_interval_minutes) == (
        9000,
        "smsc.example",
        4,  # the environment wins over the file
        2.5,
    )
    assert s.timezone == "Asia/Shanghai"  # neither: the default
    smpp = s.smpp_config()
    assert smpp is not None and (smpp.password, smpp.binds, smpp.port) == ("s3cret", 4, 2775)


def test_vasguard_config_names_the_file_and_an_explicit_file_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("VASGUARD_CONFIG", str(toml(tmp_path, "http_port = 9001\n")))
    assert load_settings().http_port == 9001
    other = tmp_path / "other.toml"
    other.write_text("http_port = 9002\n")
    assert load_settings(other).http_port == 9002


def test_env_file_sits_between_the_environment_and_the_toml_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("VASGUARD_HTTP_PORT=9003\n")
    assert load_settings(toml(tmp_path, "http_port = 9000\n")).http_port == 9003


def test_the_secret_never_shows(tmp_path):
    s = load_settings(toml(tmp_path, 'smpp_host = "h"\nsmpp_password = "s3cret"\n'))
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())


def test_no_smsc_configured_is_the_loopback():
    assert Settings().smpp_config() is None


@pytest.mark.parametrize(
    ("file", "env", "message"),
    [
        ("http_port = \n", {}, "is not valid TOML"),
        ("htp_port = 1\n", {}, "unknown setting 'htp_port'"),
        ('http_port = "x"\n', {}, "VASGUARD_HTTP_PORT or http_port in"),
        ("", {"VASGUARD_SMPP_PORT": "abc"}, "invalid setting VASGUARD_SMPP_PORT"),
        ("", {"VASGUARD_TIMEZONE": "Mars/Base"}, "not an IANA time zone"),
        ("", {"VASGUARD_SENDING_WINDOW_START": "8am"}, "not a time of day"),
        ("", {"VASGUARD_BILL_RUN_HOUR": "24"}, "VASGUARD_BILL_RUN_HOUR"),
        ("", {"VASGUARD_LOG_LEVEL": "LOUD"}, "VASGUARD_LOG_LEVEL"),
        (
            'smpp_host = "h"\nsmpp_password = "much-too-long"\n',
            {},
            "password must be ASCII of at most 8 characters",
        ),
        (
            'smpp_host = "h"\nsmpp_reconnect_min_seconds = 10\nsmpp_reconnect_max_seconds = 5\n',
            {},
            "reconnect_max must be at least reconnect_min",
        ),
    ],
)
def test_a_bad_file_or_value_is_one_clear_line_and_exit_2(
    tmp_path, monkeypatch, file, env, message
):
    path = toml(tmp_path, file)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)
    result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert message in line and "Traceback" not in result.output
    assert "much-too-long" not in result.stderr


def test_a_missing_file_is_one_line_too(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "cannot read configuration file" in line


def test_every_command_reads_vasguard_config(tmp_path, monkeypatch):
    monkeypatch.setenv("VASGUARD_CONFIG", str(toml(tmp_path, "keywords = 'loud'\n")))
    result = CliRunner().invoke(app, ["sms", "inbox", "--msisdn", "13800000001"])
    assert result.exit_code == 2
    assert "VASGUARD_KEYWORDS or keywords in" in result.stderr


def test_clock_at_starts_the_process_clock_there_and_it_runs_on(monkeypatch):
    monkeypatch.setenv("VASGUARD_CLOCK_AT", "2026-12-01T02:59:00")  # no offset: deployment zone
    clock = Runtime(load_settings()).clock()
    first = clock.now()
    assert first - datetime(2026, 11, 30, 18, 59, tzinfo=UTC) < timedelta(seconds=5)
    assert clock.now() >= first
    monkeypatch.delenv("VASGUARD_CLOCK_AT")
    assert isinstance(Runtime(Settings()).clock(), SystemClock)


@pytest.mark.usefixtures("restore_logging")
def test_serve_with_a_database_that_does_not_answer_is_one_line_and_exit_1(monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("VASGUARD_DATABASE_URL", f"postgresql://u:pw@127.0.0.1:{port}/x")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "does not answer" in line and "u:***@" in line and ":pw@" not in line

"""Structured logs: one JSON object a line, with the ``extra=`` fields; uvicorn's too."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from vasguard.process.logs import JsonFormatter, TextFormatter, configure


@pytest.fixture
def restore_logging():
    """``configure`` rewires the root and uvicorn loggers for the process: put them back,
    so later tests in this worker do not log to a stream that is gone."""
    loggers = [
        logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    ]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def record(**extra) -> logging.LogRecord:
    made = logging.LogRecord(
        "vasguard.smpp", logging.WARNING, __file__, 1, "bind %s refused", ("b1",), None
    )
    made.__dict__.update(extra)
    return made


def test_a_line_is_one_object_with_the_extra_fields():
    line = JsonFormatter().format(record(smpp_status="ESME_RINVPASWD", bind="bind-1", peer="h:1"))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "WARNING" and parsed["logger"] == "vasguard.smpp"
    assert parsed["message"] == "bind b1 refused"
    assert parsed["timestamp"].endswith("+00:00")
    assert (parsed["smpp_status"], parsed["bind"], parsed["peer"]) == (
        "ESME_RINVPASWD",
        "bind-1",
        "h:1",
    )


def test_an_exception_is_kept_in_the_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed = record()
        failed.exc_info = sys.exc_info()
    parsed = json.loads(JsonFormatter().format(failed))
    assert "RuntimeError: boom" in parsed["exception"]


def test_text_form_shows_the_fields_too():
    assert TextFormatter().format(record(bind="bind-1")).endswith("bind b1 refused bind=bind-1")


def test_uvicorn_logs_through_the_same_handler_at_the_level(restore_logging, capsys):
    configure("WARNING", "json")
    logging.getLogger("uvicorn.error").warning("port in use", extra={"port": 8000})
    logging.getLogger("vasguard.process").info("not shown below WARNING")
    [line] = capsys.readouterr().err.strip().splitlines()
    assert json.loads(line) | {"timestamp": None} == {
        "timestamp": None,
        "level": "WARNING",
        "logger": "uvicorn.error",
        "message": "port in use",
        "port": 8000,
    }

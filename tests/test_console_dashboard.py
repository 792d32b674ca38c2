"""The console's dashboard and partner scorecards over HTTP (no browser), on the small
operator counted by hand in ``test_figures.py``. Both stores."""

from __future__ import annotations

import json
import re

import pytest
from access_keys import issue_keys
from conftest import HOME
from fastapi.testclient import TestClient
from test_console import log_in
from test_figures import operator  # noqa: F401  (the fixture)

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.config import Settings

BOTH_DAYS = {"first": "2026-11-24", "last": "2026-11-25"}


@pytest.fixture
def console(operator, db_url):  # noqa: F811
    """The console of a deployment that flags partners from 4 orders up, and its keys."""
    rt = Runtime(Settings(database_url=db_url, scorecard_min_orders=4), fixed_clock=operator.clock)
    keys = issue_keys(rt, HOME)
    with TestClient(create_app(rt), follow_redirects=False) as client:
        yield client, keys
    rt.engine.dispose()


def chart_data(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S
    )
    assert found
    return json.loads(found.group(1))


def tile(html: str, figure: str) -> str:
    found = re.search(rf'data-figure="{figure}">([^<]*)<', html)
    assert found, figure
    return found.group(1)


def test_the_dashboard_shows_the_days_figures_in_tiles_tables_and_chart_data(console):
    client, keys = console
    log_in(client, keys["operator"])
    board = client.get("/console/dashboard", params=BOTH_DAYS)
    assert board.status_code == 200, board.text
    html = board.text
    assert [tile(html, f) for f in ("orders", "confirmations", "reminders_sent")] == ["5", "3", "3"]
    assert [tile(html, f) for f in ("reminder_cancels", "listings", "listing_cancels")] == [
        "2",
        "1",
        "1",
    ]
    assert (tile(html, "charged"), tile(html, "refunded")) == ("60.00", "1.20")
    data = chart_data(html)
    assert data["activity"]["labels"] == ["2026-11-24", "2026-11-25"]
    orders = next(s for s in data["activity"]["series"] if s["label"] == "订购")
    assert orders["data"] == [5, 0]
    assert data["money"]["series"][0]["data"] == [0, 60.0]
    assert data["provinces"]["series"][0]["data"] == [5]
    assert 'id="by-partner"' in html and "801001" in html and "802001" in html
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    # 801001 crosses three thresholds this month (4 orders, half confirmed, a complaint).
    assert "本月被标记的合作伙伴" in html and "确认率低" in html
    script = client.get("/console/static/vendor/chartjs/chart.umd.min.js")
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]


def test_the_period_picker_and_the_filters(console):
    client, keys = console
    log_in(client, keys["operator"])
    default = client.get("/console/dashboard")  # the last 30 days to the clock's today
    assert default.status_code == 200
    assert 'value="2026-10-27"' in default.text and 'value="2026-11-25"' in default.text
    assert tile(default.text, "orders") == "5"
    week = client.get("/console/dashboard", params={"days": 7})
    assert 'value="2026-11-19"' in week.text
    partner = client.get("/console/dashboard", params={**BOTH_DAYS, "provider": "802001"})
    assert tile(partner.text, "orders") == "1" and tile(partner.text, "listing_cancels") == "1"
    earlier = client.get("/console/dashboard", params={"first": "2026-10-01", "last": "2026-10-31"})
    assert tile(earlier.text, "orders") == "0" and "这段时间没有数据" in earlier.text
    for bad in (
        {"first": "2026-11-31"},
        {"first": "2026-11-25", "last": "2026-11-24"},
        {"first": "2025-01-01", "last": "2026-11-25"},
        {"province": "99"},
        {"provider": "nobody"},
    ):
        refused = client.get("/console/dashboard", params=bad)
        assert refused.status_code == 400, bad
        assert "Traceback" not in refused.text


def test_a_provincial_care_key_sees_its_province_and_no_scorecards(console):
    client, keys = console
    log_in(client, keys["care-elsewhere"])
    board = client.get("/console/dashboard", params={**BOTH_DAYS, "province": HOME})
    assert board.status_code == 200
    assert tile(board.text, "orders") == "0"  # held to its own province, whatever was asked
    assert "本月被标记的合作伙伴" not in board.text
    assert client.get("/console/partners").status_code == 403


def test_the_scorecards_page_lists_flagged_partners_first(console):
    client, keys = console
    log_in(client, keys["operator"])
    cards = client.get("/console/partners", params={"period": "2026-11"})
    assert cards.status_code == 200, cards.text
    rows = re.findall(r'<tr( class="flagged-row")? data-provider="(\d+)">', cards.text)
    assert rows == [(' class="flagged-row"', "801001"), ("", "802001")]
    assert "1 家合作伙伴被标记" in cards.text
    assert "50.0%" in cards.text and "1000.0" in cards.text  # confirmation rate, per 1,000
    assert client.get("/console/partners", params={"period": "2026-13"}).status_code == 400
    october = client.get("/console/partners", params={"period": "2026-10"})
    assert october.status_code == 200 and "这段时间没有数据" in october.text


@pytest.mark.parametrize(
    "bad",
    [
        {"province": "3\x001"},
        {"provider": "80\x001001"},
        {"provider": "x" * 20},
        {"first": "2026-11-2\x00"},
        {"period_": "x"},
    ],
)
def test_a_bad_filter_is_a_clear_page_and_never_a_server_error(console, bad):
    client, keys = console
    log_in(client, keys["operator"])
    answer = client.get("/console/dashboard", params=bad)
    assert answer.status_code in (200, 400), answer.text
    assert "Traceback" not in answer.text
    cards = client.get("/console/partners", params={"period": "2026\x0011"})
    assert cards.status_code == 400 and "Traceback" not in cards.text

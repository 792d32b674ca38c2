"""The daily figures and the partner scorecards, against a small operator counted by hand.
Both stores."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from access_keys import KeyedClient, issue_keys
from conftest import ALICE, BOB, CAROL, HOME

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.config import Settings
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.figures import Days, Figure
from vasguard.domain.refusals import InvalidInput
from vasguard.domain.scorecards import Flag, Thresholds
from vasguard.services.billing import run_bill
from vasguard.services.figures import dashboard, recount_figures, scorecards
from vasguard.services.outbox import flush, record_receipt
from vasguard.services.reminders import run_reminders
from vasguard.services.resolutions import refund_charge
from vasguard.store import tables

WEATHER, HEALTH, FARM = "80100001", "80100002", "80200002"
NOV_24, NOV_25 = date(2026, 11, 24), date(2026, 11, 25)


def remind(world):
    smsc = LoopbackSmsc()
    run_reminders(world.uow(), world.clock, world.deployment)
    flush(world.uow(), world.clock, smsc)
    for receipt in smsc.receipts(world.clock.now(), delivered=True):
        record_receipt(world.uow(), receipt)


@pytest.fixture
def operator(world):
    """Two days of a small operator (the world starts at 10:00 on 24 November, Shanghai).

    24th: ALICE and BOB subscribe to WEATHER (801001), CAROL declines HEALTH (801001), BOB
    leaves HEALTH unconfirmed, ALICE subscribes to FARM (802001); all three reminded and
    delivered; ALICE cancels WEATHER by TD, then FARM through her 0000 listing.
    25th: the bill run charges BOB's WEATHER (200 fen) and ALICE's plan (5800 fen); BOB
    complains about WEATHER and 120 fen of it is refunded.
    """
    world.subscribe(WEATHER, ALICE)
    world.subscribe(WEATHER, BOB)
    world.order(HEALTH, CAROL)
    world.sms("否", CAROL)
    world.order(HEALTH, BOB)
    world.subscribe(FARM, ALICE)
    remind(world)
    world.clock.advance(timedelta(minutes=5))
    world.sms(f"TD{WEATHER}", ALICE)
    world.sms("0000", ALICE)
    world.sms("1", ALICE)
    world.clock.advance(timedelta(hours=25))
    run_bill(world.uow(), world.clock, world.deployment, "2026-11", wall_clock=world.clock)
    world.sms(f"TS{WEATHER} 不想要了", BOB)
    [bob_charge] = world.rows(tables.charges, tables.charges.c.subscriber_id == 2)
    refund_charge(
        world.uow(),
        world.clock,
        charge_id=bob_charge["id"],
        amount_fen=120,
        cause=Cause(CauseKind.API, "test"),
    )
    recount_figures(world.uow(), world.clock, world.deployment, days=2)
    return world


def test_the_dashboard_counts_each_figure_on_its_day(operator):
    board = dashboard(operator.uow(), Days(NOV_24, NOV_25))
    days = {line.key: line.tally for line in board.by_day}
    assert sorted(days) == ["2026-11-24", "2026-11-25"]
    first, second = days["2026-11-24"], days["2026-11-25"]
    assert first.counts == {
        Figure.ORDERS: 5,
        Figure.CONFIRMATIONS: 3,
        Figure.REMINDERS_SENT: 3,
        Figure.REMINDERS_DELIVERED: 3,
        Figure.CANCELLATIONS: 2,
        Figure.REMINDER_CANCELS: 2,
        Figure.LISTINGS: 1,
        Figure.LISTING_CANCELS: 1,
    }
    assert second.counts == {
        Figure.CHARGES: 2,
        Figure.COMPLAINTS: 1,
        Figure.REFUNDS: 1,
    }
    assert second.amount(Figure.CHARGES) == 200 + 5800
    assert second.amount(Figure.REFUNDS) == 120
    assert board.total[Figure.ORDERS] == 5
    assert board.total.confirmation_rate == pytest.approx(3 / 5)
    assert board.refreshed_at == operator.clock.now()
    [home] = board.by_province
    assert home.key == HOME and home.tally == board.total
    partners = {line.key: line.tally for line in board.by_provider}
    assert sorted(partners) == ["801001", "802001"]  # the plan fee and the listing: no one's
    assert partners["801001"][Figure.ORDERS] == 4
    assert partners["801001"].amount(Figure.CHARGES) == 200
    assert partners["802001"][Figure.LISTING_CANCELS] == 1


def test_a_filtered_dashboard_reads_one_province_or_one_provider(operator):
    both = Days(NOV_24, NOV_25)
    partner = dashboard(operator.uow(), both, provider_code="802001")
    assert partner.total.counts == {
        Figure.ORDERS: 1,
        Figure.CONFIRMATIONS: 1,
        Figure.REMINDERS_SENT: 1,
        Figure.REMINDERS_DELIVERED: 1,
        Figure.CANCELLATIONS: 1,
        Figure.REMINDER_CANCELS: 1,
        Figure.LISTING_CANCELS: 1,
    }
    assert [line.key for line in partner.by_provider] == ["802001"]
    assert [line.key for line in partner.by_province] == [HOME]
    home = dashboard(operator.uow(), both, province=HOME)
    assert home.total == dashboard(operator.uow(), both).total
    narrow = dashboard(operator.uow(), both, province=HOME, provider_code="801001")
    assert narrow.total[Figure.ORDERS] == 4
    other = "11" if HOME != "11" else "31"
    assert dashboard(operator.uow(), both, province=other).by_day == []
    with pytest.raises(InvalidInput):
        dashboard(operator.uow(), both, province="99")
    with pytest.raises(InvalidInput):
        dashboard(operator.uow(), both, provider_code="nobody")


def test_a_recount_is_idempotent_and_a_day_out_of_it_is_kept(operator):
    def rows():
        return sorted(
            tuple(v for k, v in r.items() if k != "refreshed_at")
            for r in operator.rows(tables.daily_figures)
        )

    before = rows()
    recount_figures(operator.uow(), operator.clock, operator.deployment, days=2)
    assert rows() == before
    recount_figures(operator.uow(), operator.clock, operator.deployment, days=1)  # the 25th
    assert [r for r in rows() if r[0] == "2026-11-24"] == [
        r for r in before if r[0] == "2026-11-24"
    ]
    with pytest.raises(InvalidInput):
        recount_figures(operator.uow(), operator.clock, operator.deployment, days=0)


def test_the_scorecards_match_the_hand_count_and_flag_by_the_thresholds(operator):
    cards = {
        card.provider_code: card
        for card in scorecards(operator.uow(), operator.deployment, "2026-11")[0]
    }
    assert sorted(cards) == ["801001", "802001"]  # the operator's own provider has none
    weather = cards["801001"]
    assert (weather.orders, weather.confirmation_rate) == (4, 0.5)
    assert (weather.reminder_cancels, weather.reminder_cancel_rate) == (1, 0.5)
    assert (weather.listing_cancels, weather.held, weather.complaints) == (0, 1, 1)
    assert weather.complaints_per_1000 == 1000.0
    assert (weather.refunds, weather.refunded_fen) == (1, 120)
    assert weather.flags(Thresholds()) == ()  # 4 orders: too few to judge by default
    assert weather.flags(Thresholds(min_orders=4)) == (
        Flag.LOW_CONFIRMATION,
        Flag.REMINDER_CANCELS,
        Flag.COMPLAINTS,
    )
    lenient = Thresholds(
        min_orders=1,
        min_confirmation_rate=0.5,
        max_reminder_cancel_rate=0.5,
        max_complaints_per_1000=1000.0,
    )
    assert weather.flags(lenient) == ()
    farm = cards["802001"]
    assert (farm.orders, farm.confirmation_rate, farm.held) == (1, 1.0, 0)
    assert (farm.listing_cancels, farm.listing_cancel_rate, farm.complaints_per_1000) == (
        1,
        None,
        None,
    )
    assert farm.flags(Thresholds(min_orders=1)) == (Flag.REMINDER_CANCELS,)
    assert scorecards(operator.uow(), operator.deployment, "2026-10") == ([], 0)
    with pytest.raises(InvalidInput):
        scorecards(operator.uow(), operator.deployment, "2026-13")


def test_the_partner_report_carries_each_partners_scorecard_and_flags(operator, db_url):
    rt = Runtime(Settings(database_url=db_url, scorecard_min_orders=4), fixed_clock=operator.clock)
    try:
        with KeyedClient(create_app(rt), issue_keys(rt, HOME)) as client:
            answer = client.get("/api/v1/reports/partners", params={"period": "2026-11"})
            assert answer.status_code == 200, answer.text
            lines = {line["code"]: line for line in answer.json()["lines"]}
            assert sorted(lines) == ["801001", "802001"]
            weather = lines["801001"]
            assert weather["flagged"] is True
            assert weather["scorecard"] == {
                "orders": 4,
                "confirmation_rate": 0.5,
                "reminder_cancels": 1,
                "reminder_cancel_rate": 0.5,
                "listing_cancels": 0,
                "listing_cancel_rate": 0.0,
                "held": 1,
                "complaints": 1,
                "complaints_per_1000": 1000.0,
                "refunds": 1,
                "refunded_fen": 120,
                "flags": ["low_confirmation", "reminder_cancels", "complaints"],
            }
            assert weather["orders"] == 4  # the live report's own count agrees
            farm = lines["802001"]
            assert (farm["flagged"], farm["scorecard"]["flags"]) == (False, [])  # 1 order < 4
            only = client.get(
                "/api/v1/reports/partners", params={"period": "2026-11", "flagged": "true"}
            ).json()
            assert [line["code"] for line in only["lines"]] == ["801001"]
    finally:
        rt.engine.dispose()


def test_a_preset_span_reads_each_partners_rolling_row_with_the_same_figures(operator):
    week = Days.ending(operator.clock.now(), "Asia/Shanghai", 7)  # a preset: its rolling rows
    rolled = dashboard(operator.uow(), week)
    by_days = dashboard(operator.uow(), Days(NOV_24, NOV_25))  # no preset: the day rows
    assert rolled.by_provider == by_days.by_provider and rolled.providers == 2
    f = tables.daily_figures.c
    assert {r["day"] for r in operator.rows(tables.daily_figures, f.day.like("L%"))} == {
        "L007261125",
        "L030261125",
        "L090261125",
    }


@pytest.mark.parametrize(
    "limits",
    [
        Thresholds(),
        Thresholds(min_orders=1),
        Thresholds(min_orders=4),
        Thresholds(min_orders=1, min_confirmation_rate=0.5, max_reminder_cancel_rate=0.5),
        Thresholds(min_orders=1, max_reminder_cancel_rate=1.0, max_complaints_per_1000=999.0),
        Thresholds(min_orders=1, max_reminder_cancel_rate=1.0, max_complaints_per_1000=1000.0),
    ],
)
def test_the_flag_rule_in_sql_narrows_to_exactly_the_flagged_cards(operator, limits):
    every, count = scorecards(operator.uow(), operator.deployment, "2026-11")
    flagged, flagged_count = scorecards(
        operator.uow(), operator.deployment, "2026-11", flagged_by=limits
    )
    expected = [card.provider_code for card in every if card.flags(limits)]
    assert [card.provider_code for card in flagged] == expected
    assert (count, flagged_count) == (2, len(expected))
    top, _ = scorecards(operator.uow(), operator.deployment, "2026-11", busiest=1)
    assert [card.provider_code for card in top] == ["801001"]  # 4 orders against 1

"""The generator: full-size catalogue, realistic customers, consent evidence, determinism."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import BACKENDS, BOB, CAROL, World, private_database
from sqlalchemy import Engine, Executable, bindparam, func, select, text

from vasguard.domain.catalogue import BillingMode, Subscriber
from vasguard.domain.charging import (
    ChargingPolicy,
    Reminder,
    first_charge_due_at,
)
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.listing import ListingCandidate, number_items
from vasguard.domain.messages import MessageKind, NewMt
from vasguard.domain.msisdn import load_provinces, load_segments
from vasguard.domain.periods import Period
from vasguard.domain.plans import Plan
from vasguard.domain.segmentation import choose_encoding, split
from vasguard.domain.sending import in_window, send_after
from vasguard.domain.subscription import Channel, State
from vasguard.domain.templates import Cancellation, ListingItem
from vasguard.generate import GenerationError, GenerationSummary, generate
from vasguard.generate.catalogue import build_catalogue
from vasguard.generate.customers import CustomerFactory
from vasguard.generate.numbering import NumberPlan
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.orders import expire_orders
from vasguard.services.outbox import Outgoing, Receipt, flush, record_receipt
from vasguard.services.plans import order_plan
from vasguard.services.reminders import run_reminders
from vasguard.store import tables as t
from vasguard.store.engine import open_engine
from vasguard.store.messages import mt_values
from vasguard.store.migrate import upgrade
from vasguard.store.types import UtcDateTime

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SUBSCRIBERS = 1_500

# One worker runs this module, so the shared dataset is generated once per backend.
pytestmark = pytest.mark.xdist_group("generate")


def _scalar(engine: Engine, sql: str, **params: object) -> int:
    """Run a counting query; datetime parameters are bound as the store binds them."""
    statement = text(sql).bindparams(
        *(bindparam(k, type_=UtcDateTime()) for k, v in params.items() if isinstance(v, datetime))
    )
    with engine.connect() as conn:
        return int(conn.execute(statement, params).scalar_one())


def _table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in t.metadata.sorted_tables
        }


def _digest(engine: Engine) -> str:
    """A hash of every row of every table, in primary-key order."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            for row in conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _fresh_sqlite(path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


@pytest.fixture(scope="module", params=BACKENDS)
def dataset(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, GenerationSummary, list[tuple[str, int, int]]]]:
    """One generated operator per backend, shared by the read-only tests of this module.

    The full catalogue takes seconds to build; the last test here writes, so it runs last.
    """
    with private_database(request.param, "dataset", tmp_path_factory.mktemp("dataset")) as engine:
        yield engine, *_generated(engine)


def _generated(engine: Engine) -> tuple[GenerationSummary, list[tuple[str, int, int]]]:
    calls: list[tuple[str, int, int]] = []
    summary = generate(
        engine,
        subscribers=SUBSCRIBERS,
        seed=42,
        at=AT,
        chunk_size=500,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    return summary, calls


def test_catalogue_is_full_size_and_plausible(dataset) -> None:
    engine, summary, _ = dataset
    assert summary.provinces == 31
    assert _scalar(engine, "SELECT count(*) FROM provinces") == 31
    operator = "SELECT id FROM providers WHERE kind = 'operator'"
    assert _scalar(engine, "SELECT count(*) FROM providers WHERE kind = 'operator'") == 1
    assert _scalar(engine, "SELECT count(*) FROM providers WHERE code = '10086'") == 1
    assert _scalar(engine, "SELECT count(*) FROM providers WHERE kind = 'partner'") >= 5_000
    partner_services = _scalar(
        engine, f"SELECT count(*) FROM services WHERE provider_id NOT IN ({operator})"
    )
    own_services = _scalar(
        engine, f"SELECT count(*) FROM services WHERE provider_id IN ({operator})"
    )
    assert partner_services >= 200_000
    assert 740 <= own_services <= 780
    assert summary.services == partner_services + own_services >= 200_760
    assert _scalar(engine, "SELECT count(DISTINCT code) FROM services") == summary.services
    assert _scalar(engine, "SELECT max(length(code)) FROM services") <= 21
    # Partner codes are the enterprise code plus four digits.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM services s JOIN providers p ON p.id = s.provider_id "
            "WHERE p.kind = 'partner' AND substr(s.code, 1, 6) <> p.code",
        )
        == 0
    )
    # Prices: integer fen, free means 0, the rest between 0.1 and 30 yuan.
    with engine.connect() as conn:
        prices = conn.execute(select(t.services.c.billing_mode, t.services.c.price_fen)).all()
    assert all(isinstance(price, int) for _, price in prices)
    assert {mode for mode, _ in prices} == {"monthly", "per_use", "free"}
    assert all(price == 0 for mode, price in prices if mode == "free")
    assert all(50 <= price <= 3_000 for mode, price in prices if mode == "monthly")
    modes = Counter(mode for mode, _ in prices)
    assert modes["monthly"] > 0.8 * len(prices)
    monthly = Counter(price for mode, price in prices if mode == "monthly")
    assert {p for p, _ in monthly.most_common(5)} <= {200, 300, 500, 800, 1000}
    # About 1% exempt from the reminder, always with a reason; group-paid ones among them.
    exempt = _scalar(
        engine, "SELECT count(*) FROM services WHERE reminder_exempt_reason IS NOT NULL"
    )
    assert 0.005 * summary.services < exempt < 0.03 * summary.services
    assert _scalar(engine, "SELECT count(*) FROM services WHERE reminder_exempt_reason = ''") == 0
    group_paid_unexempt = (
        "SELECT count(*) FROM services WHERE group_paid AND reminder_exempt_reason IS NULL"
    )
    assert _scalar(engine, group_paid_unexempt) == 0
    assert _scalar(engine, "SELECT count(*) FROM services WHERE group_service") > 1_000
    categories = {
        "news", "music", "weather", "reading", "games", "video", "finance", "education",
        "health", "lifestyle", "ringback_group", "school", "farm", "mailbox",
    }  # fmt: skip
    with engine.connect() as conn:
        found = set(conn.execute(text("SELECT DISTINCT category FROM services")).scalars())
    assert found == categories
    # Plans include 0-4 of the operator's own services.
    assert summary.plans >= 30
    assert summary.plan_services > 0
    assert (
        _scalar(
            engine,
            f"SELECT count(*) FROM plan_services ps JOIN services s ON s.id = ps.service_id "
            f"WHERE s.provider_id NOT IN ({operator})",
        )
        == 0
    )
    assert _scalar(engine, "SELECT max(n) FROM (SELECT count(*) AS n FROM plan_services "
                   "GROUP BY plan_id) x") <= 4  # fmt: skip


def test_subscribers_have_real_numbers_and_plans(dataset) -> None:
    engine, summary, _ = dataset
    assert summary.subscribers == SUBSCRIBERS
    segments = load_segments()
    with engine.connect() as conn:
        people = conn.execute(
            select(t.subscribers.c.msisdn, t.subscribers.c.province, t.subscribers.c.created_at)
        ).all()
    assert len(people) == SUBSCRIBERS
    assert len({msisdn for msisdn, _, _ in people}) == SUBSCRIBERS
    assert all(len(msisdn) == 11 and msisdn.isdigit() for msisdn, _, _ in people)
    assert all(segments.province_of(msisdn) == province for msisdn, province, _ in people)
    assert all(created < AT for _, _, created in people)
    assert len({province for _, province, _ in people}) >= 25
    # Everyone has exactly one plan in force at AT; some have a history.
    in_force = _scalar(
        engine,
        "SELECT count(DISTINCT subscriber_id) FROM subscriber_plans "
        "WHERE effective_from <= :at AND (effective_to IS NULL OR effective_to > :at)",
        at=AT,
    )
    closed = _scalar(engine, "SELECT count(*) FROM subscribers WHERE status = 'closed'")
    assert in_force == SUBSCRIBERS - closed
    assert summary.subscriber_plans > SUBSCRIBERS
    # Plan notices were sent as the history happened, so the notice job finds none due;
    # only a change taking effect after AT still waits for its effective notice.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriber_plans p LEFT JOIN messages o "
            "ON o.id = p.order_notice_mt_id LEFT JOIN messages e "
            "ON e.id = p.effective_notice_mt_id WHERE o.id IS NULL "
            "OR o.kind NOT IN ('plan_ordered', 'plan_changed') OR o.direction <> 'mt' "
            "OR (p.effective_from < :at AND (e.id IS NULL "
            "OR e.kind NOT IN ('plan_ordered', 'plan_effective'))) "
            "OR (p.effective_from >= :at AND e.id IS NOT NULL)",
            at=AT,
        )
        == 0
    )
    assert _scalar(
        engine, "SELECT count(*) FROM subscriber_plans WHERE effective_from > :at", at=AT
    )
    english = _scalar(engine, "SELECT count(*) FROM subscribers WHERE language = 'en'")
    assert 0 < english < 0.1 * SUBSCRIBERS


def test_subscriptions_have_a_realistic_spread_and_respect_the_rules(dataset) -> None:
    engine, summary, _ = dataset
    with engine.connect() as conn:
        per_subscriber = dict(
            conn.execute(
                select(t.subscriptions.c.subscriber_id, func.count()).group_by(
                    t.subscriptions.c.subscriber_id
                )
            ).all()
        )
        states = Counter(conn.execute(select(t.subscriptions.c.state)).scalars())
    counts = [per_subscriber.get(i, 0) for i in range(1, SUBSCRIBERS + 1)]
    assert sum(counts) == summary.subscriptions
    assert sum(1 for c in counts if c <= 3) >= 0.75 * SUBSCRIBERS
    assert max(counts) > 20
    assert max(counts) <= 40
    assert states["active"] > 0.7 * summary.subscriptions
    assert states["cancelled"] > 0
    assert states["pending_confirmation"] > 0
    assert states["expired"] > 0
    # Partner services dominate.
    partner = _scalar(
        engine,
        "SELECT count(*) FROM subscriptions s JOIN services v ON v.id = s.service_id "
        "JOIN providers p ON p.id = v.provider_id WHERE p.kind = 'partner'",
    )
    assert partner > 0.6 * summary.subscriptions
    # Never the same service twice for a subscriber (in any state, so never twice open).
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM (SELECT subscriber_id, service_id FROM subscriptions "
            "GROUP BY subscriber_id, service_id HAVING count(*) > 1) d",
        )
        == 0
    )
    # Never a service that one of the subscriber's plans already includes.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions s JOIN subscriber_plans sp "
            "ON sp.subscriber_id = s.subscriber_id JOIN plan_services ps "
            "ON ps.plan_id = sp.plan_id AND ps.service_id = s.service_id",
        )
        == 0
    )
    # Province copied from the subscriber; closed subscribers hold nothing open.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions s JOIN subscribers b ON b.id = s.subscriber_id "
            "WHERE s.province <> b.province OR (b.status = 'closed' AND s.state IN "
            "('active', 'pending_confirmation'))",
        )
        == 0
    )
    at = AT
    # Pending orders are recent, still confirmable, with a request and a code unique among
    # the subscriber's open requests.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions s LEFT JOIN messages m ON m.id = s.request_mt_id "
            "WHERE s.state = 'pending_confirmation' AND (s.confirm_by <= :at "
            "OR s.ordered_at >= :at OR m.id IS NULL OR m.kind <> 'confirmation_request' "
            "OR s.confirmation_code IS NULL OR length(s.confirmation_code) <> 4)",
            at=at,
        )
        == 0
    )
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM (SELECT subscriber_id, confirmation_code FROM subscriptions "
            "WHERE state = 'pending_confirmation' GROUP BY subscriber_id, confirmation_code "
            "HAVING count(*) > 1) d",
        )
        == 0
    )
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions WHERE state IN ('cancelled', 'expired') "
            "AND (ended_at IS NULL OR end_cause IS NULL OR ended_at >= :at)",
            at=at,
        )
        == 0
    )


def test_every_confirmation_and_reminder_is_stored_evidence(dataset) -> None:
    engine, _, _ = dataset
    at = AT
    # Every subscription that was ever confirmed points at its own confirmation MO.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions s LEFT JOIN messages m "
            "ON m.id = s.confirmation_mo_id "
            "WHERE (s.state = 'active' OR s.confirmed_at IS NOT NULL) "
            "AND (m.id IS NULL OR m.direction <> 'mo' OR m.kind <> 'mo' "
            "OR m.status <> 'received' OR m.handled_at <> m.created_at "
            "OR m.subscriber_id <> s.subscriber_id OR m.created_at <> s.confirmed_at "
            "OR s.confirmed_at < s.ordered_at OR s.confirmed_at >= :at)",
            at=at,
        )
        == 0
    )
    with engine.connect() as conn:
        texts = conn.execute(
            text(
                "SELECT m.text, s.confirmation_code FROM subscriptions s "
                "JOIN messages m ON m.id = s.confirmation_mo_id"
            )
        ).all()
    assert texts
    assert all(body in (f"是{code}", f"Y{code}") for body, code in texts)
    # A reminder, when there is one, was sent and delivered after the confirmation.
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions s LEFT JOIN messages m ON m.id = s.reminder_mt_id "
            "WHERE s.reminder_mt_id IS NOT NULL AND (m.id IS NULL OR m.direction <> 'mt' "
            "OR m.kind <> 'reminder' OR m.status <> 'delivered' "
            "OR m.receipt_status <> 'delivered' OR m.subscription_id <> s.id "
            "OR m.sent_at < s.confirmed_at OR m.sent_at >= :at OR m.receipt_at < m.sent_at "
            "OR s.reminder_queued_at IS NULL)",
            at=at,
        )
        == 0
    )
    # Active, reminder-covered monthly subscriptions confirmed over two days ago have one;
    # those confirmed since have none yet; exempt or non-monthly services never get one.
    covered = (
        "FROM subscriptions s JOIN services v ON v.id = s.service_id "
        "WHERE s.state = 'active' AND v.billing_mode = 'monthly' "
        "AND v.reminder_exempt_reason IS NULL"
    )
    old = _scalar(
        engine,
        f"SELECT count(*) {covered} AND s.confirmed_at < :cut AND s.reminder_mt_id IS NULL",
        cut=AT - timedelta(days=2),
    )
    assert old == 0
    recent = f"SELECT count(*) {covered} AND s.confirmed_at >= :cut"
    cut = AT - timedelta(days=2)
    assert _scalar(engine, recent, cut=cut) > 0
    assert _scalar(engine, recent + " AND s.reminder_mt_id IS NOT NULL", cut=cut) == 0
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM subscriptions s JOIN services v ON v.id = s.service_id "
            "WHERE s.reminder_mt_id IS NOT NULL AND (v.billing_mode <> 'monthly' "
            "OR v.reminder_exempt_reason IS NOT NULL)",
        )
        == 0
    )
    with engine.connect() as conn:
        sample = conn.execute(
            text(
                "SELECT m.text, v.code FROM subscriptions s JOIN messages m "
                "ON m.id = s.reminder_mt_id JOIN services v ON v.id = s.service_id LIMIT 50"
            )
        ).all()
    assert sample
    assert all(f"TD{code}" in body for body, code in sample)
    # Encoding and parts are the domain's segmentation of the text (replies keep lines
    # whole); an MO is one part in the encoding its text needs.
    with engine.connect() as conn:
        sizes = conn.execute(
            select(
                t.messages.c.direction,
                t.messages.c.in_reply_to,
                t.messages.c.text,
                t.messages.c.encoding,
                t.messages.c.parts,
            )
        ).all()
    for direction, in_reply_to, body, encoding, parts in sizes:
        if direction == "mo":
            assert (encoding, parts) == (choose_encoding(body), 1)
        else:
            cut = split(body, avoid_breaking_lines=in_reply_to is not None)
            assert (encoding, parts) == (cut.encoding, cut.count), body
    # Nothing happens after AT; message ids are unique per direction at the SMSC.
    assert _scalar(engine, "SELECT count(*) FROM messages WHERE created_at >= :at", at=at) == 0
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM messages m JOIN subscribers b ON b.id = m.subscriber_id "
            "WHERE m.msisdn <> b.msisdn OR m.province <> b.province",
        )
        == 0
    )


# --- the generated messages are the ones the services write ------------------------------

DEPLOYMENT = Deployment()


def _rows(engine: Engine, statement: str | Executable) -> list[dict[str, Any]]:
    """Rows as dicts; a Core statement when datetimes are read (typed as the store types them)."""
    query = text(statement) if isinstance(statement, str) else statement
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _message(engine: Engine, message_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(t.messages).where(t.messages.c.id == message_id)).one()
    return dict(row._mapping)


def _subscriber(engine: Engine, subscriber_id: int) -> Subscriber:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                t.subscribers.c.id,
                t.subscribers.c.msisdn,
                t.subscribers.c.province,
                t.subscribers.c.language,
                t.subscribers.c.status,
            ).where(t.subscribers.c.id == subscriber_id)
        ).one()
    return Subscriber(*row)


def _queued(
    subscriber: Subscriber,
    *,
    kind: str,
    text: str,
    at: datetime,
    send_after: datetime | None = None,
    in_reply_to: int | None = None,
    subscription_id: int | None = None,
    from_number: str | None = None,
    keep_lines: bool = False,
) -> dict[str, Any]:
    """The row the services' store writes for this MT (``mt_values`` of a ``NewMt``)."""
    return mt_values(
        NewMt(
            subscriber,
            from_number or DEPLOYMENT.service_number,
            kind,
            text,
            at,
            send_after=send_after,
            in_reply_to=in_reply_to,
            subscription_id=subscription_id,
            keep_lines=keep_lines,
        )
    )


def _as_the_services_write(stored: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every field the service's row has, equal; the status as far as outbox and SMSC took it."""
    for name, value in expected.items():
        if name != "status":
            assert stored[name] == value, (name, stored["text"])
    if stored["sent_at"] is None:
        assert stored["status"] == "queued"
    else:
        assert stored["status"] == ("delivered" if stored["receipt_at"] else "sent")
        assert stored["send_after"] <= stored["sent_at"] < AT


def _mo(stored: dict[str, Any], text_: str, to: str = DEPLOYMENT.service_number) -> None:
    """An MO as intake stores it."""
    assert (stored["direction"], stored["kind"], stored["status"]) == ("mo", "mo", "received")
    assert (stored["text"], stored["service_number"]) == (text_, to)
    assert (stored["encoding"], stored["parts"]) == (choose_encoding(text_), 1)
    assert stored["handled_at"] == stored["created_at"]


def _zones(engine: Engine) -> dict[str, ZoneInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.provinces.c.code, t.provinces.c.timezone)).all()
    return {code: ZoneInfo(zone) for code, zone in rows}


def _in_window(stored: dict[str, Any], zone: ZoneInfo) -> None:
    local = stored["send_after"].astimezone(zone).time()
    assert in_window(local, DEPLOYMENT.sending_window), stored["text"]


_ORDER = (
    select(
        t.subscriptions,
        t.services.c.name.label("service_name"),
        t.services.c.code.label("service_code"),
        t.services.c.price_fen,
        t.services.c.reminder_exempt_reason,
        t.services.c.group_paid,
        t.services.c.group_service,
        t.providers.c.name.label("provider_name"),
    )
    .join_from(t.subscriptions, t.services)
    .join(t.providers)
    .order_by(t.subscriptions.c.id)
)


def test_requests_and_answers_are_what_place_order_and_the_dialogue_write(dataset) -> None:
    engine, _, _ = dataset
    orders = _rows(engine, _ORDER)
    assert {o["state"] for o in orders} == {s.value for s in State}
    for order in orders:
        subscriber = _subscriber(engine, order["subscriber_id"])
        templates = templates_for(DEPLOYMENT, subscriber)
        provider, service = order["provider_name"], order["service_name"]
        request = templates.order_confirmation_request(
            provider=provider,
            service=service,
            price_fen=order["price_fen"],
            code=order["confirmation_code"],
        )
        _as_the_services_write(
            _message(engine, order["request_mt_id"]),
            _queued(
                subscriber,
                kind="confirmation_request",
                text=request,
                at=order["ordered_at"],
                subscription_id=order["id"],
            ),
        )
        assert order["confirm_by"] == order["ordered_at"] + DEPLOYMENT.confirmation_window
        answer_id = order["confirmation_mo_id"] or (
            order["end_message_id"] if order["end_cause"] == "declined" else None
        )
        if answer_id is None:
            continue
        confirming = order["confirmation_mo_id"] is not None
        words = ("是", "Y") if confirming else ("否", "N")
        word = words[0] if subscriber.language == "zh" else words[1]
        answer = _message(engine, answer_id)
        _mo(answer, f"{word}{order['confirmation_code']}")
        [reply] = _rows(engine, f"SELECT id FROM messages WHERE in_reply_to = {answer_id}")
        if confirming:
            said = templates.order_confirmed(
                provider=provider, service=service, price_fen=order["price_fen"]
            )
        else:
            said = templates.order_declined(provider=provider, service=service)
        _as_the_services_write(
            _message(engine, reply["id"]),
            _queued(
                subscriber,
                kind="reply",
                text=said,
                at=answer["created_at"],
                in_reply_to=answer_id,
                subscription_id=order["id"],
                keep_lines=True,
            ),
        )


def test_reminders_are_what_the_reminder_job_writes_inside_the_window(dataset) -> None:
    engine, _, _ = dataset
    zones = _zones(engine)
    reminded = _rows(engine, _ORDER.where(t.subscriptions.c.reminder_mt_id.is_not(None)))
    assert reminded
    for order in reminded:
        subscriber = _subscriber(engine, order["subscriber_id"])
        zone = zones[subscriber.province]
        run = order["reminder_queued_at"]
        body = templates_for(DEPLOYMENT, subscriber).charge_reminder(
            ordered_at=order["ordered_at"].astimezone(zone),
            provider=order["provider_name"],
            service=order["service_name"],
            service_code=order["service_code"],
            price_fen=order["price_fen"],
            charge_at=(run + DEPLOYMENT.reminder_lead_time).astimezone(zone),
        )
        stored = _message(engine, order["reminder_mt_id"])
        _as_the_services_write(
            stored,
            _queued(
                subscriber,
                kind=MessageKind.REMINDER,
                text=body,
                at=run,
                subscription_id=order["id"],
                send_after=run,
            ),
        )
        _in_window(stored, zone)


def test_plan_notices_are_what_order_plan_and_the_reminder_job_write(dataset) -> None:
    engine, _, _ = dataset
    zones = _zones(engine)
    plan_zone = ZoneInfo(DEPLOYMENT.timezone)
    held = _rows(
        engine,
        select(t.subscriber_plans, t.plans.c.code, t.plans.c.name, t.plans.c.monthly_fee_fen)
        .join_from(t.subscriber_plans, t.plans)
        .order_by(t.subscriber_plans.c.subscriber_id, t.subscriber_plans.c.id),
    )
    has_plan: set[int] = set()
    for row in held:
        subscriber = _subscriber(engine, row["subscriber_id"])
        templates = templates_for(DEPLOYMENT, subscriber)
        plan = Plan(row["plan_id"], row["code"], row["name"], row["monthly_fee_fen"])
        day = row["effective_from"].astimezone(plan_zone).date()
        changed = subscriber.id in has_plan
        has_plan.add(subscriber.id)
        if changed:  # a change takes effect with the next billing period after its order
            period = Period.of(row["ordered_at"], DEPLOYMENT.timezone)
            assert row["effective_from"] == period.next().start
        zone = zones[subscriber.province]
        notice = _message(engine, row["order_notice_mt_id"])
        _as_the_services_write(
            notice,
            _queued(
                subscriber,
                kind="plan_changed" if changed else "plan_ordered",
                text=templates.plan_ordered(
                    plan=plan.notice_name,
                    fee_fen=plan.monthly_fee_fen,
                    effective_date=day,
                    changed=changed,
                ),
                at=row["ordered_at"],
                send_after=send_after(row["ordered_at"], str(zone), DEPLOYMENT.sending_window),
            ),
        )
        _in_window(notice, zone)
        if not changed or row["effective_notice_mt_id"] is None:
            continue
        included = [
            r["name"]
            for r in _rows(
                engine,
                "SELECT v.name FROM plan_services ps JOIN services v ON v.id = ps.service_id "
                f"WHERE ps.plan_id = {plan.id} ORDER BY v.code",
            )
        ]
        effective = _message(engine, row["effective_notice_mt_id"])
        run = effective["created_at"]
        assert Period.of(run, DEPLOYMENT.timezone).start <= row["effective_from"] <= run
        _as_the_services_write(
            effective,
            _queued(
                subscriber,
                kind="plan_effective",
                text=templates.plan_effective(
                    plan=plan.notice_name,
                    fee_fen=plan.monthly_fee_fen,
                    effective_date=day,
                    included=included,
                ),
                at=run,
                send_after=run,
            ),
        )
        _in_window(effective, zone)


def _charged(order: dict[str, Any], ended: datetime, sent_at: dict[int, datetime]) -> bool:
    """What the charging policy had made of the subscription by its cancellation (the
    generator writes no charges; its replies say whether a first charge had fallen due)."""
    if order["group_paid"]:
        return False
    reminder = None
    if order["reminder_mt_id"] is not None:
        reminder = Reminder(sent_at[order["reminder_mt_id"]])
    due = first_charge_due_at(
        order["confirmed_at"],
        reminder,
        exempt=order["reminder_exempt_reason"] is not None,
        policy=ChargingPolicy(),
    )
    return due is not None and due < ended


def test_listings_and_cancellations_are_what_the_dialogue_writes(dataset) -> None:
    engine, _, _ = dataset
    sent_at = {
        r["id"]: r["sent_at"] for r in _rows(engine, select(t.messages.c.id, t.messages.c.sent_at))
    }
    orders = {o["id"]: o for o in _rows(engine, _ORDER)}
    listings = _rows(engine, select(t.listings).order_by(t.listings.c.id))
    assert listings
    listed: dict[int, dict[int, int]] = {}
    for listing in listings:
        subscriber = _subscriber(engine, listing["subscriber_id"])
        at = listing["created_at"]
        _mo(_message(engine, listing["mo_id"]), "0000")
        assert listing["expires_at"] == at + DEPLOYMENT.listing_validity
        items = _rows(
            engine,
            f"SELECT number, subscription_id FROM listing_items "
            f"WHERE listing_id = {listing['id']} ORDER BY number",
        )
        # Numbered as number_items numbers what was active then.
        candidates = [
            ListingCandidate(
                o["id"],
                o["service_code"],
                o["service_name"],
                o["provider_name"],
                o["price_fen"],
                BillingMode.MONTHLY,
                bool(o["group_service"]),
                State.ACTIVE,
                o["ordered_at"],
                False,
            )
            for o in orders.values()
            if o["subscriber_id"] == subscriber.id
            and o["confirmed_at"] is not None
            and o["confirmed_at"] < at
            and (o["ended_at"] is None or o["ended_at"] > at)
        ]
        numbered = number_items(candidates)
        assert [(i["number"], i["subscription_id"]) for i in items] == [
            (e.number, e.candidate.subscription_id) for e in numbered
        ]
        listed[listing["id"]] = {i["subscription_id"]: i["number"] for i in items}
        body = templates_for(DEPLOYMENT, subscriber).listing(
            [
                ListingItem(
                    e.number,
                    e.candidate.service_name,
                    e.candidate.price_fen,
                    e.candidate.provider_name,
                    e.candidate.group_service,
                )
                for e in numbered
            ]
        )
        [reply] = _rows(engine, f"SELECT id FROM messages WHERE in_reply_to = {listing['mo_id']}")
        _as_the_services_write(
            _message(engine, reply["id"]),
            _queued(
                subscriber,
                kind="listing",
                text=body,
                at=at,
                in_reply_to=listing["mo_id"],
                from_number=DEPLOYMENT.listing_port,
                keep_lines=True,
            ),
        )
    by_message: dict[int, list[dict[str, Any]]] = {}
    for order in orders.values():
        if order["end_cause"] in ("td_code", "td_reminder", "listing_cancel", "cancel_all"):
            by_message.setdefault(order["end_message_id"], []).append(order)
    assert {o["end_cause"] for group in by_message.values() for o in group} == {
        "td_code",
        "td_reminder",
        "listing_cancel",
        "cancel_all",
    }
    for message_id, ended in by_message.items():
        cause = ended[0]["end_cause"]
        subscriber = _subscriber(engine, ended[0]["subscriber_id"])
        mo = _message(engine, message_id)
        latest = max(
            (
                x
                for x in listings
                if x["subscriber_id"] == subscriber.id and x["created_at"] < mo["created_at"]
            ),
            key=lambda x: x["created_at"],
            default=None,
        )
        if cause == "td_code":
            [order] = ended
            _mo(mo, f"TD{order['service_code']}")
        elif cause == "td_reminder":
            [order] = ended
            _mo(mo, "TD")
            # It meant one subscription: the only one reminded, active and uncharged then.
            at = mo["created_at"]
            assert [
                o["id"]
                for o in orders.values()
                if o["subscriber_id"] == subscriber.id
                and o["reminder_queued_at"] is not None
                and o["reminder_queued_at"] < at
                and (o["ended_at"] is None or o["ended_at"] >= at)
                and not _charged(o, at, sent_at)
            ] == [order["id"]]
        elif cause == "listing_cancel":
            [order] = ended
            assert latest is not None
            _mo(mo, str(listed[latest["id"]][order["id"]]), DEPLOYMENT.listing_port)
        else:
            assert latest is not None and set(listed[latest["id"]]) == {o["id"] for o in ended}
            ended.sort(key=lambda o: listed[latest["id"]][o["id"]])
            _asked_to_cancel_all(engine, subscriber, latest, ended, mo)
        assert all(o["ended_at"] == mo["created_at"] for o in ended)
        body = templates_for(DEPLOYMENT, subscriber).cancelled(
            [Cancellation(o["service_name"], _charged(o, mo["created_at"], sent_at)) for o in ended]
        )
        [reply] = _rows(engine, f"SELECT id FROM messages WHERE in_reply_to = {message_id}")
        _as_the_services_write(
            _message(engine, reply["id"]),
            _queued(
                subscriber,
                kind="reply",
                text=body,
                at=mo["created_at"],
                in_reply_to=message_id,
                keep_lines=True,
            ),
        )


def _asked_to_cancel_all(
    engine: Engine,
    subscriber: Subscriber,
    listing: dict[str, Any],
    ended: list[dict[str, Any]],
    confirming: dict[str, Any],
) -> None:
    """QX to the listing port after the listing, the question naming every item with the
    code, and 是{code} (Y{code}) within its validity."""
    [qx] = _rows(
        engine,
        select(t.messages).where(
            t.messages.c.subscriber_id == subscriber.id,
            t.messages.c.text == "QX",
            t.messages.c.created_at > listing["created_at"],
            t.messages.c.created_at < confirming["created_at"],
        ),
    )
    _mo(qx, "QX", DEPLOYMENT.listing_port)
    word = "是" if subscriber.language == "zh" else "Y"
    code = confirming["text"].removeprefix(word)
    _mo(confirming, f"{word}{code}")
    assert confirming["created_at"] < qx["created_at"] + DEPLOYMENT.cancel_all_validity
    question = templates_for(DEPLOYMENT, subscriber).cancel_all_confirmation(
        services=[o["service_name"] for o in ended], code=code
    )
    [reply] = _rows(engine, f"SELECT id FROM messages WHERE in_reply_to = {qx['id']}")
    _as_the_services_write(
        _message(engine, reply["id"]),
        _queued(
            subscriber,
            kind="reply",
            text=question,
            at=qx["created_at"],
            in_reply_to=qx["id"],
            keep_lines=True,
        ),
    )


def test_english_ascii_is_gsm7(dataset) -> None:
    engine, _, _ = dataset
    english = _rows(
        engine,
        "SELECT m.text, m.encoding FROM messages m JOIN subscribers b "
        "ON b.id = m.subscriber_id WHERE b.language = 'en'",
    )
    ascii_texts = [m for m in english if m["text"].isascii()]
    assert ascii_texts
    assert {m["encoding"] for m in ascii_texts} == {"gsm7"}


class _Smsc:
    """A transport that accepts everything, numbering what it accepted."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    def submit(self, message: Outgoing) -> str:
        self.accepted.append(f"smsc-{message.message_id}")
        return self.accepted[-1]


def _vocabulary(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """The values a database holds in the columns that name what happened."""
    queries = {
        "message": "SELECT DISTINCT direction, kind, service_number FROM messages",
        "status": "SELECT DISTINCT direction, status FROM messages",
        "encoding": "SELECT DISTINCT encoding FROM messages",
        "state": "SELECT DISTINCT state, end_cause FROM subscriptions",
        "channel": "SELECT DISTINCT channel FROM subscriptions "
        "UNION SELECT DISTINCT channel FROM subscriber_plans",
    }
    with engine.connect() as conn:
        return {name: {tuple(r) for r in conn.execute(text(sql))} for name, sql in queries.items()}


def _services_vocabulary(world: World) -> dict[str, set[tuple[Any, ...]]]:
    """Drive the services through every event the generator writes; collect what they wrote."""
    cause = Cause(CauseKind.API, "test")
    with world.engine.begin() as conn:
        conn.execute(
            t.plans.insert().values(id=2, code="P88", name="88元套餐", monthly_fee_fen=8800)
        )
    seen: dict[str, set[tuple[Any, ...]]] = {}

    def collect() -> None:
        for name, values in _vocabulary(world.engine).items():
            seen.setdefault(name, set()).update(values)

    confirmed = world.order("80100001")  # 是, then a 0000 item
    world.sms(f"是{confirmed.code}")
    declined = world.order("80100002")
    world.sms(f"否{declined.code}")
    world.order("80200002", channel=Channel.WEB)  # left to expire
    world.subscribe("80100001", CAROL)  # Y, then TD and the code
    world.subscribe("80200002", CAROL)  # then QX and 是
    world.subscribe("80100002", BOB)  # then a bare TD after its reminder
    for channel, plan in zip(Channel, ("P88", "P58", "P88", "P58"), strict=True):
        order_plan(
            world.uow(), world.clock, world.deployment, msisdn=BOB, plan_code=plan,
            channel=channel, cause=cause,
        )  # fmt: skip
    run_reminders(world.uow(), world.clock, world.deployment)
    collect()
    world.sms("0000")
    world.sms("1", to=world.deployment.listing_port)
    world.sms("TD80100001", CAROL)
    world.sms("0000", CAROL)
    world.sms("QX", CAROL, to=world.deployment.listing_port)
    [asked] = _rows(
        world.engine,
        select(t.listings.c.cancel_all_code).where(t.listings.c.cancel_all_code.is_not(None)),
    )
    qx = asked["cancel_all_code"]
    world.sms(f"Y{qx}", CAROL)
    world.sms("TD", BOB)
    world.clock.advance(timedelta(days=1, minutes=1))
    expire_orders(world.uow(), world.clock, cause=cause)
    collect()
    smsc = _Smsc()
    flush(world.uow(), world.clock, smsc)
    collect()
    for smsc_id in smsc.accepted:
        record_receipt(world.uow(), Receipt(smsc_id, True, world.clock.now()))
    collect()
    world.clock.advance(timedelta(days=7))  # into December: BOB's P88 takes effect
    run_reminders(world.uow(), world.clock, world.deployment)
    collect()
    return seen


def test_generated_states_causes_kinds_and_statuses_are_the_services_own(dataset, world) -> None:
    engine, _, _ = dataset
    generated = _vocabulary(engine)
    services = _services_vocabulary(world)
    for name, values in generated.items():
        assert values <= services[name], (name, values - services[name])
    assert {state for state, _ in generated["state"]} == {s.value for s in State}
    assert {channel for (channel,) in generated["channel"]} <= {c.value for c in Channel}
    # Every cause the services end subscriptions with shows up in the generated data.
    assert generated["state"] == services["state"]


def test_every_message_row_has_the_table_columns_in_table_order() -> None:
    """COPY writes each row's values in the order of the first row's keys."""
    provinces = load_provinces()
    factory = CustomerFactory(
        build_catalogue(Random(1), provinces),
        NumberPlan(load_segments(), Random(2)),
        provinces,
        Random(3),
        AT,
    )
    chunk = factory.chunk(300)
    columns = [c.name for c in t.messages.columns]
    assert {m["direction"] for m in chunk.messages} == {"mo", "mt"}
    assert all(list(row) == columns for row in chunk.messages)


def test_run_is_recorded_reported_and_leaves_the_database_usable(dataset) -> None:
    engine, summary, calls = dataset
    counts = _table_counts(engine)
    assert {k: counts[k] for k in summary.counts()} == summary.counts()
    assert counts["charges"] == counts["complaints"] == 0
    assert summary.elapsed_seconds > 0
    with engine.connect() as conn:
        event = conn.execute(select(t.events)).one()
    assert (event.entity, event.kind, event.cause_kind, event.cause_ref) == (
        "dataset",
        "generated",
        "job",
        "generate:42",
    )
    assert f'"subscribers": {SUBSCRIBERS}' in event.detail
    # Progress per catalogue batch and per chunk of subscribers, ending complete.
    assert calls[-1] == ("subscribers", SUBSCRIBERS, SUBSCRIBERS)
    assert [c for c in calls if c[0] == "subscribers"] == [
        ("subscribers", done, SUBSCRIBERS) for done in (0, 500, 1_000, 1_500)
    ]
    assert ("catalogue", summary.services, summary.services) in calls
    # Ids were assigned by the generator; the next ordinary insert must not collide.
    with engine.begin() as conn:
        new_id = conn.execute(
            t.messages.insert()
            .values(
                msisdn="13800000000",
                direction="mo",
                service_number="10086",
                kind="mo",
                text="0000",
                encoding="gsm7",
                parts=1,
                status="received",
                created_at=AT,
            )
            .returning(t.messages.c.id)
        ).scalar_one()
    assert new_id == summary.messages + 1
    # A second run is refused and changes nothing.
    before = _table_counts(engine)
    with pytest.raises(GenerationError, match="already holds data"):
        generate(engine, subscribers=10, seed=1, at=AT)
    assert _table_counts(engine) == before


def test_same_seed_same_rows_on_any_backend_and_chunk_size(engine: Engine, tmp_path: Path) -> None:
    generate(engine, subscribers=300, seed=7, at=AT)
    again = _fresh_sqlite(tmp_path / "again.db")
    generate(again, subscribers=300, seed=7, at=AT, chunk_size=37)
    other = _fresh_sqlite(tmp_path / "other.db")
    generate(other, subscribers=300, seed=8, at=AT)
    try:
        assert _digest(engine) == _digest(again)
        assert _digest(engine) != _digest(other)
    finally:
        again.dispose()
        other.dispose()


def test_refuses_a_database_with_a_catalogue_and_changes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            t.providers.insert().values(
                code="10086", name="运营商", kind="operator", access_number="10086"
            )
        )
    before = _digest(engine)
    with pytest.raises(GenerationError, match="generate into an empty database"):
        generate(engine, subscribers=10, seed=1, at=AT)
    assert _digest(engine) == before


def test_rejects_a_naive_time_before_writing(engine: Engine) -> None:
    with pytest.raises(GenerationError, match="aware"):
        generate(engine, subscribers=10, seed=1, at=AT.replace(tzinfo=None))
    assert _scalar(engine, "SELECT count(*) FROM providers") == 0


def test_numbers_are_distinct_and_in_their_province() -> None:
    """No database: the number plan is a bijection onto the served segments."""
    segments = load_segments()
    plan = NumberPlan(segments, Random(3))
    ordinals = [*range(50_000), *range(plan.size - 5_000, plan.size)]
    numbers = [plan.number(n) for n in ordinals]
    assert len({msisdn for msisdn, _ in numbers}) == len(ordinals)
    assert all(segments.province_of(msisdn) == province for msisdn, province in numbers)
    with pytest.raises(ValueError):
        plan.number(plan.size)

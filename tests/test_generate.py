"""The generator: full-size catalogue, realistic customers, consent evidence, determinism."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest
from conftest import BACKENDS, private_database
from sqlalchemy import Engine, bindparam, func, select, text

from vasguard.domain.msisdn import load_segments
from vasguard.generate import GenerationError, GenerationSummary, generate
from vasguard.generate.numbering import NumberPlan
from vasguard.store import tables as t
from vasguard.store.engine import open_engine
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
            "ON m.id = s.confirmation_mo_id WHERE s.state IN ('active', 'cancelled') AND "
            "(m.id IS NULL OR m.direction <> 'mo' OR m.kind <> 'confirmation' "
            "OR m.status <> 'received' OR m.subscription_id <> s.id "
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
    # UCS-2: 70 characters fit one SMS, longer texts go in parts of 67.
    with engine.connect() as conn:
        sizes = conn.execute(select(t.messages.c.text, t.messages.c.parts)).all()
    assert all(parts == (1 if len(body) <= 70 else -(-len(body) // 67)) for body, parts in sizes)
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
                kind="query",
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

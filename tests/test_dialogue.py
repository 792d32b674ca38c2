"""The SMS dialogue end to end (SMS-DIALOGUE.md), on SQLite and PostgreSQL."""

import random
from datetime import timedelta

import pytest
from conftest import ALICE, BOB, CAROL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.commands import NotUnderstood, parse
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import InvalidMsisdn
from vasguard.domain.subscription import Channel
from vasguard.services.deployment import Deployment
from vasguard.services.orders import place_order
from vasguard.services.outbox import flush
from vasguard.services.reminders import run_reminders
from vasguard.store import tables

S = tables.subscriptions


def sms(world, text, msisdn=ALICE, smsc_id=None, to="10086"):
    return world.sms(text, msisdn, smsc_id, to)


def subscribe(world, *codes, msisdn=ALICE):
    """Subscribe to each service, a minute apart, so the listing order is known."""
    ids = []
    for code in codes:
        ids.append(world.subscribe(code, msisdn))
        world.clock.advance(timedelta(minutes=1))
    return ids


def state(world, sid):
    return world.rows(S, S.c.id == sid)[0]["state"]


def listing_lines(reply):
    return [line for line in reply.splitlines() if line[:1].isdigit()]


def test_list_cancel_some_then_list_the_rest(world):
    weather, health, farm = subscribe(world, "80100001", "80100002", "80200002")
    listing = sms(world, "0000").replies[0]
    lines = listing_lines(listing)
    assert [line.split(".")[0] for line in lines] == ["1", "2", "3"]
    assert "天气预报" in lines[0] and "2元/月" in lines[0] and "星云信息" in lines[0]
    assert "农信通[集团]" in lines[2]
    cancelled = sms(world, "1,3").replies[0]
    assert "天气预报" in cancelled and "农信通" in cancelled and "未产生任何费用" in cancelled
    assert [state(world, s) for s in (weather, health, farm)] == [
        "cancelled",
        "active",
        "cancelled",
    ]
    again = listing_lines(sms(world, "0000").replies[0])
    assert len(again) == 1 and again[0].startswith("1.健康百科")


@pytest.mark.parametrize("reply", ["1 3", "1，3", "TD1,3", "td1、3", "１,３", "TD 1 3"])
def test_every_multi_item_form_cancels_items_one_and_three(world, reply):
    ids = subscribe(world, "80100001", "80100002", "80200002")
    sms(world, "0000")
    sms(world, reply)
    assert [state(world, s) for s in ids] == ["cancelled", "active", "cancelled"]


def test_range_cancels_each_item_in_it(world):
    ids = subscribe(world, "80100001", "80100002", "80200002", "90000001")
    sms(world, "0000")
    sms(world, "2-4")
    assert [state(world, s) for s in ids] == ["active", "cancelled", "cancelled", "cancelled"]


def test_cancel_all_needs_its_code(world):
    ids = subscribe(world, "80100001", "80100002")
    sms(world, "0000")
    ask = sms(world, "QX").replies[0]
    assert "天气预报" in ask and "健康百科" in ask
    assert [state(world, s) for s in ids] == ["active", "active"]
    code = ask.split("是")[1][:4]
    assert "未产生任何费用" in sms(world, f"是{code}").replies[0]
    assert [state(world, s) for s in ids] == ["cancelled", "cancelled"]


@pytest.mark.parametrize("word", ["全部", "TDQX", "qx"])
def test_cancel_all_left_unconfirmed_cancels_nothing(world, word):
    ids = subscribe(world, "80100001", "80100002")
    sms(world, "0000")
    ask = sms(world, word).replies[0]
    code = ask.split("是")[1][:4]
    world.clock.advance(timedelta(minutes=10))
    late = sms(world, f"是{code}").replies[0]
    assert "没有" in late
    assert [state(world, s) for s in ids] == ["active", "active"]


def test_bare_yes_with_an_order_and_a_cancel_all_open_is_ambiguous(world):
    ids = subscribe(world, "80100001")
    sms(world, "0000")
    sms(world, "QX")
    place_order(
        world.uow(),
        world.clock,
        world.deployment,
        msisdn=ALICE,
        service_code="80100002",
        channel=Channel.PARTNER,
        cause=Cause(CauseKind.API, "test"),
    )
    assert "多种含义" in sms(world, "是").replies[0]
    assert state(world, ids[0]) == "active"
    assert len(world.rows(S, S.c.state == "pending_confirmation")) == 1


def test_five_zeros_lists_and_never_cancels(world):
    ids = subscribe(world, "80100001")
    reply = sms(world, "00000").replies[0]
    assert listing_lines(reply)[0].startswith("1.天气预报")
    assert state(world, ids[0]) == "active"


def test_listing_expires_after_24_hours_and_a_new_0000_renumbers(world):
    ids = subscribe(world, "80100001", "80100002")
    sms(world, "0000")
    world.clock.advance(timedelta(hours=24))
    assert "失效" in sms(world, "1").replies[0]
    assert [state(world, s) for s in ids] == ["active", "active"]
    sms(world, "0000")
    sms(world, "TD80100001")
    sms(world, "0000")
    sms(world, "1")
    assert [state(world, s) for s in ids] == ["cancelled", "cancelled"]


def test_numbers_without_a_listing_out_of_range_or_already_cancelled(world):
    ids = subscribe(world, "80100001", "80100002")
    assert "失效" in sms(world, "1").replies[0]
    sms(world, "0000")
    out = sms(world, "2,5").replies[0]
    assert "5" in out and "共2项" in out
    assert [state(world, s) for s in ids] == ["active", "active"]
    sms(world, "1")
    again = sms(world, "1").replies[0]
    assert "已退订" in again
    assert [state(world, s) for s in ids] == ["cancelled", "active"]


def test_plan_included_service_not_listed_and_pending_orders_not_listed(world):
    with world.engine.begin() as conn:
        conn.execute(
            S.insert().values(
                subscriber_id=1,
                province=world.rows(tables.subscribers)[0]["province"],
                service_id=2,
                state="active",
                channel="care",
                ordered_at=world.clock.now(),
                confirmed_at=world.clock.now(),
                confirmation_mo_id=0,
            )
        )
    place_order(
        world.uow(),
        world.clock,
        world.deployment,
        msisdn=ALICE,
        service_code="80100002",
        channel=Channel.PARTNER,
        cause=Cause(CauseKind.API, "test"),
    )
    reply = sms(world, "0000").replies[0]
    assert "彩铃" not in reply and "健康百科" not in reply
    assert "没有订购任何包月增值业务" in reply


def test_empty_listing(world):
    assert "没有订购任何包月增值业务" in sms(world, "0000", msisdn=BOB).replies[0]


def test_listing_comes_from_the_sub_port_and_replies_to_it_count(world):
    ids = subscribe(world, "80100001")
    sms(world, "0000")
    mt = world.rows(tables.messages, tables.messages.c.kind == "listing")[0]
    assert mt["service_number"] == "10086977"
    sms(world, "1", to="10086977")
    assert state(world, ids[0]) == "cancelled"


def test_td_code_and_td_number_ambiguity(world):
    ids = subscribe(world, "80100001", "80100002")
    sms(world, "TD80100002")
    assert [state(world, s) for s in ids] == ["active", "cancelled"]
    assert "您没有订购" in sms(world, "TD99999999").replies[0]
    sms(world, "0000")
    sms(world, "TD1")
    assert state(world, ids[0]) == "cancelled"


def test_td_number_meaning_both_an_item_and_a_service_code_asks(world):
    with world.engine.begin() as conn:
        conn.execute(tables.services.update().where(tables.services.c.id == 4).values(code="12"))
    ids = subscribe(world, "80100001", "12")
    sms(world, "0000")
    with world.engine.begin() as conn:  # item 12 exists only if the listing has 12 items; add it
        conn.execute(
            tables.listing_items.insert().values(
                listing_id=world.rows(tables.listings)[-1]["id"],
                number=12,
                subscription_id=ids[0],
                subscriber_id=1,
                province=world.rows(tables.subscribers)[0]["province"],
            )
        )
    assert "多种含义" in sms(world, "TD12").replies[0]
    assert [state(world, s) for s in ids] == ["active", "active"]


def remind(world):
    """The real reminder job, then the outbox through the loopback SMSC."""
    run_reminders(world.uow(), world.clock, world.deployment)
    flush(world.uow(), world.clock, LoopbackSmsc())


def test_bare_td_cancels_the_only_open_reminder(world):
    ids = subscribe(world, "80100001")
    assert "业务代码" in sms(world, "TD").replies[0]
    remind(world)
    ids += subscribe(world, "80100002")
    sms(world, "TD")
    assert [state(world, s) for s in ids] == ["cancelled", "active"]


def test_bare_td_with_two_open_reminders_asks_for_the_code(world):
    ids = subscribe(world, "80100001", "80100002")
    remind(world)
    assert "业务代码" in sms(world, "TD").replies[0]
    assert [state(world, s) for s in ids] == ["active", "active"]


def test_complaints_by_code_and_by_latest_reminder(world):
    ids = subscribe(world, "80100001", "80100002")
    assert "业务代码" in sms(world, "TS 乱扣费").replies[0]
    by_code = sms(world, "TS80100001 没有订购过").replies[0]
    assert "天气预报" in by_code and "编号TS" in by_code
    remind(world)
    assert "健康百科" in sms(world, "TS").replies[0]
    complaints = world.rows(tables.complaints)
    assert [(c["subscription_id"], c["status"]) for c in complaints] == [
        (ids[0], "open"),
        (ids[1], "open"),
    ]
    assert complaints[0]["text"] == "没有订购过"
    assert len({c["ticket"] for c in complaints}) == 2
    assert "您没有订购" in sms(world, "TS77777777 x").replies[0]


def test_help_and_nonsense_change_nothing(world):
    subscribe(world, "80100001")
    before = len(world.rows(tables.events)), len(world.rows(S, S.c.state == "active"))
    assert "0000" in sms(world, "BZ").replies[0]
    assert "0000" in sms(world, "帮助").replies[0]
    assert "未能识别" in sms(world, "你好啊").replies[0]
    assert before == (len(world.rows(tables.events)), len(world.rows(S, S.c.state == "active")))


def test_english_subscriber_dialogue(world):
    ids = subscribe(world, "80100001", msisdn=CAROL)
    listing = sms(world, "0000", msisdn=CAROL).replies[0]
    assert "CNY 2/month" in listing
    assert "cancelled" in sms(world, "1", msisdn=CAROL).replies[0]
    assert state(world, ids[0]) == "cancelled"


def test_events_record_the_mo_that_caused_them(world):
    ids = subscribe(world, "80100001")
    sms(world, "0000")
    result = sms(world, "1")
    (cancelled,) = world.rows(
        tables.events, tables.events.c.kind == "cancelled", tables.events.c.entity_id == ids[0]
    )
    assert (cancelled["cause_kind"], cancelled["cause_ref"]) == ("mo", str(result.mo_id))
    row = world.rows(S, S.c.id == ids[0])[0]
    assert row["end_message_id"] == result.mo_id and row["end_cause"] == "listing_cancel"


def test_duplicate_mo_is_acted_on_once_and_gets_no_second_reply(world):
    ids = subscribe(world, "80100001", "80100002")
    sms(world, "0000", smsc_id="a1")
    first = sms(world, "1", smsc_id="a2")
    sms(world, "0000", smsc_id="a3")
    again = sms(world, "1", smsc_id="a2")
    assert first.replies and again.duplicate and again.replies == []
    assert [state(world, s) for s in ids] == ["cancelled", "active"]


def test_an_mo_stored_but_not_handled_is_handled_on_redelivery(world):
    """A crash between storing and acting leaves the MO unhandled; the SMSC's retry acts."""
    ids = subscribe(world, "80100001")
    sms(world, "0000")
    with world.engine.begin() as conn:
        conn.execute(
            tables.messages.insert().values(
                msisdn=ALICE,
                direction="mo",
                service_number="10086",
                kind="mo",
                text="1",
                encoding="gsm7",
                parts=1,
                status="received",
                smsc_message_id="crashed",
                created_at=world.clock.now(),
                subscriber_id=1,
            )
        )
    result = sms(world, "1", smsc_id="crashed")
    assert not result.duplicate and result.replies
    assert state(world, ids[0]) == "cancelled"


def _snapshot(world):
    return (
        [(r["id"], r["state"]) for r in world.rows(S)],
        len(world.rows(tables.complaints)),
        len(world.rows(tables.events)),
        len(world.rows(tables.listings)),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=2500))
def test_arbitrary_text_never_raises_and_nonsense_changes_nothing(world, text):
    if not world.rows(S):
        subscribe(world, "80100001", "80100002")
        sms(world, "0000")
    before = _snapshot(world)
    result = sms(world, text)
    assert result.replies
    if isinstance(parse(text), NotUnderstood):
        assert _snapshot(world) == before


def test_english_keyword_regime(world, db_url):
    from vasguard.bootstrap import Runtime
    from vasguard.config import Settings

    world.deployment = Runtime(Settings(database_url=db_url, keywords="english")).deployment
    ids = subscribe(world, "80100001", msisdn=CAROL)
    remind(world)
    ids += subscribe(world, "80100002", "80200002", msisdn=CAROL)
    assert "1." in sms(world, "LIST", msisdn=CAROL).replies[0]
    sms(world, "stop", msisdn=CAROL)
    assert state(world, ids[0]) == "cancelled"
    ask = sms(world, "STOP ALL", msisdn=CAROL).replies[0]
    code = ask.split('"Y')[1][:4]
    sms(world, f"Y{code}", msisdn=CAROL)
    assert [state(world, s) for s in ids] == ["cancelled", "cancelled", "cancelled"]
    assert "HELP" in sms(world, "help", msisdn=CAROL).replies[0]


def test_a_failure_while_acting_keeps_the_mo_unhandled_and_changes_nothing_else(world, monkeypatch):
    import vasguard.services.intake as dialogue

    ids = subscribe(world, "80100001")
    sms(world, "0000")
    events_before = len(world.rows(tables.events))

    def broken(mo, command):
        mo.uow.subscriptions.cancel(ids[0], at=mo.at, cause="x", message_id=mo.id)
        raise RuntimeError("store went away")

    monkeypatch.setattr(dialogue, "act", broken)
    with pytest.raises(RuntimeError):
        sms(world, "1", smsc_id="flaky")
    (kept,) = world.rows(tables.messages, tables.messages.c.smsc_message_id == "flaky")
    assert kept["handled_at"] is None and kept["text"] == "1"
    assert state(world, ids[0]) == "active"
    assert len(world.rows(tables.events)) == events_before
    monkeypatch.undo()
    assert sms(world, "1", smsc_id="flaky").replies
    assert state(world, ids[0]) == "cancelled"


def test_a_write_refused_at_commit_keeps_only_the_unhandled_mo(world, monkeypatch):
    """Replies and events are written at commit; if the store refuses one, nothing stays."""
    import vasguard.store.messages as store_messages

    ids = subscribe(world, "80100001")
    sms(world, "0000")
    before = _snapshot(world), len(world.rows(tables.messages))
    real_mt_values = store_messages.mt_values

    def no_kind(mt):
        return {**real_mt_values(mt), "kind": None}

    monkeypatch.setattr(store_messages, "mt_values", no_kind)
    with pytest.raises(IntegrityError):
        sms(world, "1", smsc_id="refused")
    (kept,) = world.rows(tables.messages, tables.messages.c.smsc_message_id == "refused")
    assert kept["handled_at"] is None
    assert (_snapshot(world), len(world.rows(tables.messages)) - 1) == before
    monkeypatch.undo()
    assert sms(world, "1", smsc_id="refused").replies
    assert state(world, ids[0]) == "cancelled"


def test_a_complaint_holds_the_charge_until_it_is_resolved(world):
    from vasguard.services.billing import run_bill
    from vasguard.services.resolutions import resolve_complaint

    held, charged = subscribe(world, "80100001", "80100002")
    remind(world)
    ticket = sms(world, "TS80100001 我没订过").replies[0].split("编号")[1][:15]
    world.clock.advance(timedelta(days=2))

    def bill():
        return run_bill(
            world.uow(), world.clock, world.deployment, "2026-11", wall_clock=world.clock
        )

    bill()
    billed = {c["subscription_id"] for c in world.rows(tables.charges)}
    assert charged in billed and held not in billed
    resolve_complaint(
        world.uow(),
        world.clock,
        world.deployment,
        ticket=ticket,
        refund=False,
        cause=Cause(CauseKind.API, "care"),
    )
    world.clock.advance(timedelta(hours=1))
    bill()
    billed = {c["subscription_id"] for c in world.rows(tables.charges)} - {None}  # plan fee
    assert billed == {held, charged}


def test_mos_handled_by_concurrent_threads_all_get_their_reply(world):
    """The API serves MOs from a thread pool: every MO is stored, handled and answered."""
    from concurrent.futures import ThreadPoolExecutor

    for msisdn in (ALICE, BOB, CAROL):
        subscribe(world, "80100001", msisdn=msisdn)

    def talk(n):
        msisdn = (ALICE, BOB, CAROL)[n % 3]
        return sms(world, "0000" if n % 2 else "帮助", msisdn=msisdn, smsc_id=f"t{n}")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(talk, range(24)))
    assert all(r.replies and not r.duplicate for r in results)
    mos = world.rows(tables.messages, tables.messages.c.smsc_message_id.like("t%"))
    assert len(mos) == 24 and all(m["handled_at"] is not None for m in mos)


def take(world, *mos):
    """Several MOs through the group-commit path: (msisdn, text, smsc id) each."""
    from vasguard.services.intake import IncomingMo, receive_mos

    incoming = [IncomingMo(msisdn, "10086", text, smsc_id) for msisdn, text, smsc_id in mos]
    return receive_mos(world.uow, world.clock, world.deployment, incoming, rng=random.Random(7))


def test_a_batch_of_mos_does_what_the_same_mos_do_one_by_one(world):
    alice = subscribe(world, "80100001", "80100002")
    bob = subscribe(world, "80100001", msisdn=BOB)
    listed = take(world, (ALICE, "0000", "b1"), (BOB, "0000", "b2"))
    assert ["1." in r.replies[0] for r in listed] == [True, True]
    cancelled = take(world, (ALICE, "1", "b3"), (BOB, "1", "b4"), (ALICE, "0000", "b5"))
    assert [state(world, s) for s in alice + bob] == ["cancelled", "active", "cancelled"]
    # ALICE's second MO in the batch went in a later transaction, so it sees her cancel.
    assert "1." in cancelled[2].replies[0] and "天气预报" not in cancelled[2].replies[0]
    assert "天气预报" in listed[0].replies[0]
    mos = world.rows(tables.messages, tables.messages.c.smsc_message_id.like("b%"))
    assert len(mos) == 5 and all(m["handled_at"] is not None for m in mos)


def test_a_batch_refuses_bad_mos_alone_and_does_the_rest(world, monkeypatch):
    import vasguard.services.intake as dialogue

    ids = subscribe(world, "80100001", msisdn=BOB)
    take(world, (BOB, "0000", "c0"))
    real_act = dialogue.act

    def act_failing_on_help(mo, command):
        if mo.text == "BZ":
            raise RuntimeError("store went away")
        real_act(mo, command)

    monkeypatch.setattr(dialogue, "act", act_failing_on_help)
    results = take(
        world,
        ("13999999999", "0000", "c1"),
        ("12345", "0000", "c2"),
        (ALICE, "BZ", "c3"),
        (BOB, "1", "c4"),
        (BOB, "1", "c4"),
    )
    assert isinstance(results[0], UnknownSubscriber)
    assert isinstance(results[1], InvalidMsisdn)
    assert isinstance(results[2], RuntimeError)
    assert results[3].replies and results[4].duplicate and not results[4].replies
    assert state(world, ids[0]) == "cancelled"
    (kept,) = world.rows(tables.messages, tables.messages.c.smsc_message_id == "c3")
    assert kept["handled_at"] is None
    monkeypatch.undo()
    (again,) = take(world, (ALICE, "BZ", "c3"))
    assert again.replies and not again.duplicate


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.tuples(st.sampled_from([ALICE, BOB]), st.text(max_size=200)), max_size=8))
def test_a_batch_of_arbitrary_texts_answers_every_mo_and_raises_nothing(world, texts):
    if not world.rows(S):
        subscribe(world, "80100001", "80100002")
        subscribe(world, "80100001", msisdn=BOB)
    results = take(world, *((msisdn, text, None) for msisdn, text in texts))
    assert len(results) == len(texts)
    assert all(not isinstance(r, Exception) and r.replies for r in results)


def test_the_service_number_and_its_configured_sub_ports_are_ours_nothing_else():
    deployment = Deployment(sub_ports=frozenset({"1008601"}))
    assert all(deployment.accepts(n) for n in ("10086", "10086977", "1008601", " 10086 "))
    assert not any(deployment.accepts(n) for n in ("99999", "1008699", "100869770", "", "1008"))

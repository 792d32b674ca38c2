"""The ESME session against a third-party SMSC (npm ``smpp``) on loopback."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Sequence

import pytest

from vasguard.channels.smpp import (
    Address,
    BindPool,
    ConnectionLost,
    DeliverSm,
    EsmeSession,
    InvalidMessage,
    NotBound,
    ResponseTimeout,
    ShortMessage,
    Status,
    SubmitRefused,
)
from vasguard.channels.smpp.pdus import Command
from vasguard.channels.smpp.text import UCS2, decode_concatenated, decode_text, encode_text

LOGGER = "vasguard.channels.smpp"


def mt(text: str = "hello", to: str = "989121234567", *, receipt: bool = False) -> ShortMessage:
    encoded = encode_text(text, 1)
    assert len(encoded.parts) == 1
    return ShortMessage(
        source=Address("1234", 0, 1),
        destination=Address(to),
        short_message=encoded.parts[0],
        data_coding=encoded.data_coding,
        esm_class=encoded.esm_class,
        registered_delivery=1 if receipt else 0,
    )


class Recorder:
    """A deliver_sm handler that records its batches and answers ESME_ROK."""

    def __init__(self) -> None:
        self.batches: list[list[DeliverSm]] = []

    async def __call__(self, batch: Sequence[DeliverSm]) -> list[int]:
        self.batches.append(list(batch))
        return [Status.ESME_ROK] * len(batch)

    @property
    def delivered(self) -> list[DeliverSm]:
        return [pdu for batch in self.batches for pdu in batch]


async def until(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not callable(condition) or not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def test_bind_transceiver_and_unbind_on_close(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            assert session.is_bound
        return session

    session = run(scenario())
    smsc.settle()
    [bind] = smsc.events("bind")
    assert bind["command"] == "bind_transceiver"
    assert (bind["system_id"], bind["system_type"], bind["status"]) == ("vasguard", "VAS", 0)
    assert smsc.events("unbind"), "close() must unbind before closing the socket"
    assert not session.is_bound


def test_wrong_password_is_one_clear_line_then_back_off_then_binds(smsc, config, run, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def scenario():
        async with EsmeSession(config(password="wrong"), Recorder()) as session:
            await smsc.wait("bind", count=3, status=Status.ESME_RINVPASWD)
            assert not session.is_bound
            await smsc.do("config", password="wrong")  # the operator fixes the account
            await session.wait_bound(5)

    run(scenario())
    smsc.settle()
    refusals = [r for r in caplog.records if getattr(r, "smpp_status", None) == "ESME_RINVPASWD"]
    assert len(refusals) >= 3
    line = refusals[0].getMessage()
    assert "ESME_RINVPASWD" in line and "retrying in" in line and "vasguard" in line
    binds = smsc.events("bind")
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(binds)]
    assert all(gap >= 40 for gap in gaps), f"binds must be spaced by the back-off: {gaps}"
    assert binds[-1]["status"] == 0


def test_submit_returns_the_smsc_message_id(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            gsm = await session.submit(mt("hello {world}"))
            encoded = encode_text("سلام دنیا", 2)
            ucs2 = await session.submit(
                ShortMessage(
                    source=Address("1234", 0, 1),
                    destination=Address("989121234567"),
                    short_message=encoded.parts[0],
                    data_coding=encoded.data_coding,
                )
            )
            return gsm, ucs2

    gsm, ucs2 = run(scenario())
    smsc.settle()
    first, second = smsc.events("submit_sm")
    assert (first["message_id"], second["message_id"]) == (gsm, ucs2)
    assert first["text"] == "hello {world}", "the npm SMSC reads our GSM-7 with escapes"
    assert (second["data_coding"], second["text"]) == (UCS2, "سلام دنیا")
    assert first["destination_addr"] == "989121234567"


def test_throttled_submits_raise_a_retryable_error(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("throttle", count=2)
            errors = []
            for _ in range(2):
                with pytest.raises(SubmitRefused) as caught:
                    await session.submit(mt())
                errors.append(caught.value)
            await smsc.do("throttle", count=1, status="ESME_RMSGQFUL")
            with pytest.raises(SubmitRefused) as queue_full:
                await session.submit(mt())
            await smsc.do("throttle", count=1, status="ESME_RINVDSTADR")
            with pytest.raises(SubmitRefused) as permanent:
                await session.submit(mt())
            accepted = await session.submit(mt())
            return errors, queue_full.value, permanent.value, accepted

    throttled, queue_full, permanent, accepted = run(scenario())
    smsc.settle()
    assert [(e.status_name, e.retryable) for e in throttled] == [("ESME_RTHROTTLED", True)] * 2
    assert (queue_full.status_name, queue_full.retryable) == ("ESME_RMSGQFUL", True)
    assert (permanent.status_name, permanent.retryable) == ("ESME_RINVDSTADR", False)
    assert "permanent" in str(permanent) and "retry later" in str(throttled[0])
    assert accepted.startswith("npm")


def test_window_bounds_outstanding_submits(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(window=3), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("config", submit_delay_ms=60)
            ids = await asyncio.gather(*(session.submit(mt(f"m{i}")) for i in range(12)))
            return ids

    ids = run(scenario())
    smsc.settle()
    assert len(set(ids)) == 12
    outstanding = [e["outstanding"] for e in smsc.events("submit_sm")]
    assert max(outstanding) == 3, outstanding


def test_submit_rate_is_limited(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(submit_rate=50.0), Recorder()) as session:
            await session.wait_bound(5)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.gather(*(session.submit(mt()) for _ in range(11)))
            return loop.time() - started

    elapsed = run(scenario())
    assert elapsed >= 0.18, f"11 submits at 50/s (burst 1) need >= 0.2 s, took {elapsed:.3f}"


def test_enquire_link_both_ways(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(enquire_link_interval=0.2), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("enquire_link")
            await smsc.wait("enquire_link_resp")
            await smsc.wait("enquire_link", count=2, answered=True)
            assert session.is_bound and session.binds == 1

    run(scenario())
    smsc.settle()
    assert smsc.events("enquire_link_resp")[0]["status"] == 0


def test_missed_enquire_link_resp_drops_and_reconnects(smsc, config, run, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def scenario():
        cfg = config(enquire_link_interval=0.15, response_timeout=0.3)
        async with EsmeSession(cfg, Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("config", mute_enquire_link=True)
            await smsc.wait("close", session=1)
            await smsc.do("config", mute_enquire_link=False)
            await smsc.wait("bind", count=2, status=0)
            await until(lambda: session.binds == 2)

    run(scenario())
    smsc.settle()
    assert any("no enquire_link_resp" in r.getMessage() for r in caplog.records)


def test_dropped_connection_fails_in_flight_and_reconnects_with_back_off(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("config", submit_delay_ms=2000)
            pending = asyncio.ensure_future(session.submit(mt()))
            await smsc.wait("submit_sm")
            await smsc.do("drop")
            with pytest.raises(ConnectionLost):
                await pending
            with pytest.raises(NotBound):
                await session.submit(mt())
            await smsc.do("config", submit_delay_ms=0)
            await smsc.wait("bind", count=2, status=0)
            await until(lambda: session.is_bound)
            return await session.submit(mt())

    assert run(scenario()).startswith("npm")
    smsc.settle()
    close = smsc.events("close", session=1)[0]
    rebind = smsc.events("bind", session=2)[0]
    assert rebind["t"] - close["t"] >= 45, "the reconnect waits for the back-off (>= 50 ms)"


def test_no_response_in_time_is_a_timeout(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(response_timeout=0.2), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("config", submit_delay_ms=600)
            with pytest.raises(ResponseTimeout):
                await session.submit(mt())
            assert session.outstanding == 0 and session.is_bound

    run(scenario())
    smsc.settle()


def test_deliver_sm_resp_only_after_the_handler_returned(smsc, config, run):
    """The handler sends an MT and sleeps before returning; on the one TCP stream the SMSC
    must see: deliver_sm sent, then the handler's submit_sm, then the deliver_sm_resp."""
    seen: list[str] = []

    async def scenario():
        session: EsmeSession

        async def commit_then_ack(batch: Sequence[DeliverSm]) -> list[int]:
            seen.extend(decode_text(d.message.data_coding, d.message.user_data) for d in batch)
            await session.submit(mt("reply"))
            await asyncio.sleep(0.2)  # the group commit
            return [Status.ESME_ROK] * len(batch)

        async with EsmeSession(config(), commit_then_ack) as session:
            await session.wait_bound(5)
            await smsc.do("deliver", messages=[{"mo": "mo-1", "text": "0000"}])
            await smsc.wait("deliver_sm_resp")

    run(scenario())
    smsc.settle()
    assert seen == ["0000"]
    sent = smsc.events("deliver_sm_sent")[0]
    submit = smsc.events("submit_sm")[0]
    resp = smsc.events("deliver_sm_resp")[0]
    assert sent["n"] < submit["n"] < resp["n"]
    assert resp["t"] - sent["t"] >= 190
    assert resp["status"] == 0


def test_deliver_sm_that_arrive_together_are_one_batch(smsc, config, run):
    recorder = Recorder()

    async def scenario():
        async with EsmeSession(config(deliver_batch=4), recorder) as session:
            await session.wait_bound(5)
            messages = [{"mo": f"mo-{i}", "text": f"text {i}"} for i in range(10)]
            await smsc.do("deliver", messages=messages)
            await smsc.wait("deliver_sm_resp", count=10)

    run(scenario())
    smsc.settle()
    sizes = [len(batch) for batch in recorder.batches]
    assert sum(sizes) == 10 and max(sizes) == 4 and all(s <= 4 for s in sizes), sizes
    texts = [decode_text(d.message.data_coding, d.message.user_data) for d in recorder.delivered]
    assert texts == [f"text {i}" for i in range(10)]
    assert all(e["status"] == 0 for e in smsc.events("deliver_sm_resp"))


def test_temporary_error_from_the_handler_makes_the_smsc_redeliver(smsc, config, run):
    attempts: list[str] = []

    async def flaky(batch: Sequence[DeliverSm]) -> list[int]:
        attempts.extend(d.message.short_message.decode() for d in batch)
        first = len(attempts) == 1
        return [Status.ESME_RX_T_APPN if first else Status.ESME_ROK] * len(batch)

    async def scenario():
        async with EsmeSession(config(), flaky) as session:
            await session.wait_bound(5)
            await smsc.do("deliver", messages=[{"mo": "mo-1", "text": "STOP"}])
            await smsc.wait("deliver_sm_resp", count=2)

    run(scenario())
    smsc.settle()
    statuses = [e["status"] for e in smsc.events("deliver_sm_resp", mo="mo-1")]
    assert statuses == [Status.ESME_RX_T_APPN, Status.ESME_ROK]
    assert attempts == ["STOP", "STOP"]


def test_a_failing_handler_answers_temporary_error_and_the_session_survives(
    smsc, config, run, caplog
):
    calls = 0

    async def broken(batch: Sequence[DeliverSm]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is down")
        return [Status.ESME_ROK] * len(batch)

    async def scenario():
        async with EsmeSession(config(), broken) as session:
            await session.wait_bound(5)
            await smsc.do("deliver", messages=[{"mo": "mo-1", "text": "1"}])
            await smsc.wait("deliver_sm_resp", count=2)
            assert session.binds == 1 and session.is_bound

    run(scenario())
    smsc.settle()
    statuses = [e["status"] for e in smsc.events("deliver_sm_resp")]
    assert statuses == [Status.ESME_RX_T_APPN, Status.ESME_ROK]
    assert any("database is down" in (r.exc_text or "") for r in caplog.records)


def test_receipts_arrive_as_deliver_sm_with_the_receipt_tlvs(smsc, config, run):
    recorder = Recorder()

    async def scenario():
        async with EsmeSession(config(), recorder) as session:
            await session.wait_bound(5)
            message_id = await session.submit(mt(receipt=True))
            await until(lambda: recorder.delivered)
            return message_id

    message_id = run(scenario())
    smsc.settle()
    [receipt] = recorder.delivered
    assert receipt.message.is_receipt
    assert receipt.message.receipted_message_id == message_id
    assert receipt.message.message_state == 2  # DELIVERED
    text = receipt.message.short_message.decode("ascii")
    assert text.startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
    assert " stat:DELIVRD err:000 text:hello" in text


def test_malformed_pdus_from_the_smsc_get_generic_nack_and_the_session_survives(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            unknown_command = "00000010" + "00000099" + "00000000" + "0000004d"
            await smsc.do("raw", hex=unknown_command)
            await smsc.wait("generic_nack", seq=0x4D)
            truncated_deliver_sm = "00000014" + "00000005" + "00000000" + "0000004e" + "01020304"
            await smsc.do("raw", hex=truncated_deliver_sm)
            await smsc.wait("pdu", command="deliver_sm_resp", seq=0x4E)
            message_id = await session.submit(mt())
            assert session.binds == 1
            return message_id

    assert run(scenario()).startswith("npm")
    smsc.settle()
    assert smsc.events("generic_nack")[0]["status"] == Status.ESME_RINVCMDID
    [resp] = smsc.events("pdu", command="deliver_sm_resp", seq=0x4E)
    assert resp["status"] != Status.ESME_ROK, "a deliver_sm that cannot be read is refused"


def test_an_impossible_command_length_is_nacked_and_the_link_rebuilt(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("raw", hex="7fffffff" + "00000005" + "00000000" + "00000063")
            await smsc.wait("generic_nack", seq=0x63)
            await smsc.wait("bind", count=2, status=0)
            await until(lambda: session.binds == 2)

    run(scenario())
    smsc.settle()
    assert smsc.events("generic_nack")[0]["status"] == Status.ESME_RINVCMDLEN


def test_unbind_from_the_smsc_is_answered_and_the_session_rebinds(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("unbind")
            await smsc.wait("unbind_resp")
            await smsc.wait("bind", count=2, status=0)
            await until(lambda: session.binds == 2 and session.is_bound)

    run(scenario())
    smsc.settle()
    assert smsc.events("unbind_resp")[0]["status"] == 0


def test_a_bind_pool_spreads_submits_and_survives_one_bind_dropping(smsc, config, run):
    async def scenario():
        async with BindPool(config(binds=3), Recorder()) as pool:
            await pool.wait_bound(5)
            await asyncio.gather(*(pool.submit(mt()) for _ in range(30)))
            await smsc.do("drop", session=1)
            await until(lambda: pool.bound == 2)
            after_drop = await asyncio.gather(*(pool.submit(mt()) for _ in range(6)))
            await pool.wait_bound(5)
            return after_drop

    assert len(run(scenario())) == 6
    smsc.settle()
    assert len(smsc.events("bind", status=0)) == 4
    first_round = smsc.events("submit_sm")[:30]
    assert len({e["session"] for e in first_round}) == 3, "submits spread over every bind"
    assert len(smsc.events("unbind")) == 3


def test_close_lets_in_flight_submits_and_mos_finish_before_unbinding(smsc, config, run):
    async def slow_commit(batch: Sequence[DeliverSm]) -> list[int]:
        await asyncio.sleep(0.2)
        return [Status.ESME_ROK] * len(batch)

    async def scenario():
        session = EsmeSession(config(), slow_commit)
        session.start()
        await session.wait_bound(5)
        await smsc.do("config", submit_delay_ms=150)
        submit = asyncio.ensure_future(session.submit(mt()))
        await smsc.do("deliver", messages=[{"mo": "mo-1", "text": "0000"}])
        await smsc.wait("submit_sm")
        await session.close()
        with pytest.raises(NotBound):
            await session.submit(mt())
        return await submit

    assert run(scenario()).startswith("npm")
    smsc.settle()
    [resp] = smsc.events("deliver_sm_resp")
    [unbind] = smsc.events("unbind")
    assert resp["status"] == 0 and resp["n"] < unbind["n"], "MOs answered before the unbind"


def test_close_while_the_smsc_is_unreachable_returns_promptly(config, run, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def scenario():
        with socket.socket() as probe:  # a loopback port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        session = EsmeSession(config(port=port), Recorder())
        session.start()
        await until(lambda: any("cannot connect" in r.getMessage() for r in caplog.records))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await session.close()
        return loop.time() - started

    assert run(scenario()) < 0.5


def test_a_handler_returning_nonsense_gets_temporary_errors(smsc, config, run):
    async def confused(batch: Sequence[DeliverSm]) -> list[int]:
        return [0] * (len(batch) + 1)  # one status too many

    async def scenario():
        async with EsmeSession(config(), confused) as session:
            await session.wait_bound(5)
            await smsc.do("config", redeliver=False)
            messages = [{"mo": f"mo-{i}", "text": "x"} for i in range(3)]
            await smsc.do("deliver", messages=messages)
            await smsc.wait("deliver_sm_resp", count=3)

    run(scenario())
    smsc.settle()
    statuses = [e["status"] for e in smsc.events("deliver_sm_resp")]
    assert statuses == [Status.ESME_RX_T_APPN] * 3


def test_mo_alphabets_and_concatenation_as_the_npm_smsc_encodes_them(smsc, config, run):
    recorder = Recorder()
    text = "سلام، فهرست سرویس‌های من را بفرست لطفاً "
    half = len(text) // 2
    messages = [
        {"mo": "gsm", "text": "Balance? {x} 10€", "data_coding": 0},
        {"mo": "latin", "text": "café Zürich", "data_coding": 3},
        {"mo": "ucs2", "text": "۰۰۰۰ وضعیت", "data_coding": 8},
        {"mo": "part-2", "text": text[half:], "data_coding": 8, "udh_hex": "0500037b0202"},
        {"mo": "part-1", "text": text[:half], "data_coding": 8, "udh_hex": "0500037b0201"},
        {"mo": "payload", "data_coding": 0, "message_payload_hex": ("0000 " * 60).encode().hex()},
    ]

    async def scenario():
        async with EsmeSession(config(), recorder) as session:
            await session.wait_bound(5)
            await smsc.do("deliver", messages=messages)
            await smsc.wait("deliver_sm_resp", count=len(messages))

    run(scenario())
    gsm, latin, ucs2, part2, part1, payload = (d.message for d in recorder.delivered)
    assert decode_text(gsm.data_coding, gsm.user_data) == "Balance? {x} 10€"
    assert decode_text(latin.data_coding, latin.user_data) == "café Zürich"
    assert decode_text(ucs2.data_coding, ucs2.user_data) == "۰۰۰۰ وضعیت"
    assert part1.has_udh and part2.has_udh
    joined = decode_concatenated(part1.data_coding, [part2.short_message, part1.short_message])
    assert joined == text
    assert decode_text(payload.data_coding, payload.user_data) == "0000 " * 60


def test_a_generic_nack_to_a_submit_is_a_refusal_with_its_status(smsc, config, run):
    async def scenario():
        async with EsmeSession(config(), Recorder()) as session:
            await session.wait_bound(5)
            await smsc.do("config", submit_delay_ms=2000)
            pending = asyncio.ensure_future(session.submit(mt()))
            [submit] = await smsc.wait("submit_sm")
            nack = f"00000010800000000000005800{submit['seq']:06x}"
            await smsc.do("raw", hex=nack)
            with pytest.raises(SubmitRefused) as caught:
                await pending
            with pytest.raises(InvalidMessage, match="destination_addr"):
                await session.submit(mt(to="9" * 25))
            assert session.is_bound and session.binds == 1
            return caught.value

    refused = run(scenario())
    assert refused.command is Command.GENERIC_NACK
    assert (refused.status_name, refused.retryable) == ("ESME_RTHROTTLED", True)


def test_mos_beyond_the_backlog_are_answered_temporary_error_at_once(smsc, config, run, caplog):
    async def slow(batch: Sequence[DeliverSm]) -> list[int]:
        await asyncio.sleep(0.3)
        return [Status.ESME_ROK] * len(batch)

    async def scenario():
        async with EsmeSession(config(deliver_backlog=2, deliver_batch=2), slow) as session:
            await session.wait_bound(5)
            await smsc.do("config", redeliver=False)
            messages = [{"mo": f"mo-{i}", "text": str(i)} for i in range(6)]
            await smsc.do("deliver", messages=messages)
            await smsc.wait("deliver_sm_resp", count=6)

    run(scenario())
    smsc.settle()
    resps = smsc.events("deliver_sm_resp")
    refused = [e for e in resps if e["status"] == Status.ESME_RX_T_APPN]
    accepted = [e for e in resps if e["status"] == Status.ESME_ROK]
    assert refused and accepted and len(refused) + len(accepted) == 6
    assert max(e["t"] for e in refused) < min(e["t"] for e in accepted), "refused at once"
    # One warning for the burst, not one per deliver_sm turned away.
    warnings = [r for r in caplog.records if "await the handler" in r.getMessage()]
    assert len(warnings) == 1 and "answered 1 with" in warnings[0].getMessage()


def test_a_drop_mid_flood_loses_no_mo(smsc, config, run):
    """MOs unanswered when the connection drops are redelivered by the SMSC after the
    reconnect; every one ends answered ESME_ROK (the caller deduplicates redeliveries)."""
    handled: list[str] = []

    async def commit(batch: Sequence[DeliverSm]) -> list[int]:
        await asyncio.sleep(0.05)
        handled.extend(d.message.short_message.decode() for d in batch)
        return [Status.ESME_ROK] * len(batch)

    labels = [f"mo-{i}" for i in range(40)]

    async def scenario():
        async with EsmeSession(config(deliver_batch=5), commit) as session:
            await session.wait_bound(5)
            await smsc.do("deliver", messages=[{"mo": m, "text": m} for m in labels])
            await smsc.wait("deliver_sm_resp", count=5)
            await smsc.do("drop")
            for label in labels:
                await smsc.wait("deliver_sm_resp", mo=label, status=0, timeout=10)
            assert session.binds == 2

    run(scenario(), timeout=30)
    assert set(handled) == set(labels)
    smsc.settle()
    redelivered = {e["mo"] for e in smsc.events("deliver_sm_sent") if e["attempt"] > 1}
    assert redelivered, "the drop left MOs unanswered, and the SMSC sent them again"


def test_mixed_traffic_every_mt_gets_an_id_every_receipt_and_mo_is_answered(smsc, config, run):
    recorder = Recorder()

    async def scenario():
        async with EsmeSession(config(window=20, deliver_batch=16), recorder) as session:
            await session.wait_bound(5)
            mos = [{"mo": f"mo-{i}", "text": f"mo {i}"} for i in range(200)]
            submits = asyncio.gather(*(session.submit(mt(receipt=True)) for _ in range(300)))
            for start in range(0, 200, 50):
                await smsc.do("deliver", messages=mos[start : start + 50])
            ids = await submits
            await until(lambda: len(recorder.delivered) == 500, timeout=10)
            return ids

    ids = run(scenario(), timeout=30)
    smsc.settle()
    receipts = [d.message for d in recorder.delivered if d.message.is_receipt]
    assert sorted(r.receipted_message_id or "" for r in receipts) == sorted(ids)
    mo_resps = smsc.events("deliver_sm_resp")
    assert len(mo_resps) == 200 and {e["status"] for e in mo_resps} == {0}
    assert len({e["mo"] for e in mo_resps}) == 200, "each MO answered once"
    assert max(e["outstanding"] for e in smsc.events("submit_sm")) <= 20

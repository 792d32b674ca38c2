"""SMPP codec and session throughput: µs per PDU, and submits/s over one bind on loopback.

Run by hand:  .venv/bin/python bench/smpp_codec.py [--submits 20000] [--window 50]

1. Codec: encode and decode of a submit_sm and a deliver_sm through
   ``vasguard.channels.smpp.codec`` (and, for comparison, the bare smpp.pdu3 calls under
   it), best of several rounds.
2. Session: one ``EsmeSession`` against the npm-``smpp`` test SMSC (tests/peers/smsc.js,
   `npm ci` there first), ``--submits`` submit_sm kept ``--window`` deep; wall time,
   submits/s, and CPU per submit of this process and of the SMSC.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from vasguard.channels.smpp import Address, DeliverSm, EsmeSession, ShortMessage, SmppConfig, codec
from vasguard.channels.smpp.framing import Frame, Header
from vasguard.channels.smpp.pdus import SubmitSm
from vasguard.channels.smpp.text import encode_text

PEERS = Path(__file__).resolve().parent.parent / "tests" / "peers"


def per_call_us(call: Callable[[], object], number: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, time.perf_counter() - started)
    return best / number * 1e6


def message(text: str) -> ShortMessage:
    encoded = encode_text(text, 1)
    return ShortMessage(
        source=Address("1234", 0, 1),
        destination=Address("989121234567"),
        short_message=encoded.parts[0],
        data_coding=encoded.data_coding,
        esm_class=encoded.esm_class,
        registered_delivery=1,
    )


def codec_figures(number: int) -> None:
    submit = SubmitSm(12345, message("Your plan: 3 services, 12,000 IRR a month. Reply 1 to stop."))
    mo = DeliverSm(
        777,
        ShortMessage(
            source=Address("989121234567"), destination=Address("1234"), short_message=b"0000"
        ),
    )
    print(f"codec (best of 5 x {number}):")
    for name, pdu in (("submit_sm", submit), ("deliver_sm", mo)):
        data = codec.encode(pdu)
        frame = Frame(Header.unpack(data), data)
        assert codec.decode(frame) == pdu
        encode_us = per_call_us(lambda pdu=pdu: codec.encode(pdu), number)
        decode_us = per_call_us(lambda frame=frame: codec.decode(frame), number)
        raw = codec._ENCODER.decode(io.BytesIO(data))
        library_encode = per_call_us(lambda raw=raw: codec._ENCODER.encode(raw), number)
        library_decode = per_call_us(
            lambda data=data: codec._ENCODER.decode(io.BytesIO(data)), number
        )
        print(
            f"  {name:<10} {len(data):3d} octets  encode {encode_us:6.1f} µs  "
            f"decode {decode_us:6.1f} µs   (smpp.pdu3 alone: encode {library_encode:5.1f}, "
            f"decode {library_decode:5.1f})"
        )


class Peer:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (PEERS / "node_modules" / "smpp").is_dir():
            raise SystemExit(f"needs node and `npm ci` in {PEERS}")
        self.process = subprocess.Popen(
            [node, "smsc.js", "--port", "0", "--system-id", "bench", "--password", "bench"],
            cwd=PEERS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        first = json.loads(self.process.stdout.readline())
        self.port = int(first["port"])
        settings = {"record_submits": False, "record_pdus": False, "receipt_delay_ms": 10**9}
        self.process.stdin.write(json.dumps({"cmd": "config", **settings}) + "\n")
        self.process.stdin.flush()
        self.cpu = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self.cpu.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


async def session_figures(peer: Peer, submits: int, window: int) -> None:
    config = SmppConfig(
        host="127.0.0.1",
        port=peer.port,
        system_id="bench",
        password="bench",
        window=window,
        response_timeout=30.0,
    )

    async def ignore(batch: Sequence[DeliverSm]) -> list[int]:
        return [0] * len(batch)

    mt = message("Your plan: 3 services, 12,000 IRR a month. Reply 1 to stop.")
    async with EsmeSession(config, ignore) as session:
        await session.wait_bound(5)
        for _ in range(200):  # warm-up
            await session.submit(mt)
        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(submits):
            queue.put_nowait(None)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                await session.submit(mt)

        smsc_cpu = peer.cpu_seconds()
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(window)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        smsc_cpu = peer.cpu_seconds() - smsc_cpu
    print(f"session: {submits} submit_sm, window {window}, one bind, loopback, npm smpp SMSC")
    print(f"  {submits / wall:8.0f} submits/s   wall {wall:.2f} s")
    print(f"  {cpu / submits * 1e6:8.1f} µs CPU per submit in this process (ESME)")
    print(f"  {smsc_cpu / submits * 1e6:8.1f} µs CPU per submit in the SMSC (node)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec-iterations", type=int, default=5_000)
    parser.add_argument("--submits", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=50)
    args = parser.parse_args()
    codec_figures(args.codec_iterations)
    peer = Peer()
    try:
        asyncio.run(session_figures(peer, args.submits, args.window))
    finally:
        peer.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

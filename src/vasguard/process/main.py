"""``vasguard serve``: one asyncio process running the HTTP API, the SMS engine, the
scheduler and the webhook dispatcher, until SIGTERM or SIGINT.

Uvicorn runs in this loop (``Server.serve``), with its own signal handling turned off:
this module takes the signals, because a stop is more than the web server's. On the
first SIGTERM or SIGINT, at once and side by side:

- the SMS engine stops taking MOs (unbinds) and finishes what is in flight;
- the scheduler starts no job and those running end after the chunk they committed;
- the webhook dispatcher posts nothing more (a POST cut short is posted again later);
- uvicorn stops accepting connections and lets requests in flight finish (at most
  ``shutdown_seconds``).

Then the process exits 0 with nothing half-written: everything is committed per MO,
per MT part or per chunk, and what was still queued goes out after the next start. A
second signal forces uvicorn to drop the connections it is still waiting on.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy.engine import make_url

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.engine import SmsEngine
from vasguard.channels.webhooks.dispatcher import WebhookDispatcher
from vasguard.process.jobs import platform_jobs
from vasguard.process.scheduler import Scheduler
from vasguard.store.engine import Checkpointer
from vasguard.store.locks import holding

log = logging.getLogger("vasguard.process")


class _Server(uvicorn.Server):
    """Uvicorn without its signal handlers: ``serve`` owns SIGTERM and SIGINT."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(rt: Runtime, engine: SmsEngine, *, host: str, port: int) -> int:
    """Run until a signal; the exit status (0 after a graceful stop, 1 if HTTP failed)."""
    s = rt.settings
    clock = rt.clock()
    server = _Server(
        uvicorn.Config(
            create_app(rt, engine),
            host=host,
            port=port,
            log_config=None,
            timeout_graceful_shutdown=max(1, round(s.shutdown_seconds)),
        )
    )
    scheduler = None
    if s.scheduler:
        zones = await asyncio.to_thread(_zones, rt)
        scheduler = Scheduler(
            platform_jobs(rt, clock, zones), clock, lambda name: holding(rt.engine, name)
        )
    dispatcher = None
    if s.webhooks:
        dispatcher = WebhookDispatcher(
            rt.uow,
            clock,
            rt.engine,
            timeout=s.webhook_timeout_seconds,
            backoff_min=s.webhook_backoff_min_seconds,
            backoff_max=s.webhook_backoff_max_seconds,
            batch=s.webhook_batch,
            poll=s.webhook_poll_seconds,
            feed=rt.partner_feed(),
        )
    log.info(
        "vasguard starting",
        extra={
            "database": make_url(s.database_url).render_as_string(hide_password=True),
            "http": f"{host}:{port}",
            "sms": "smpp" if s.smpp_host else "loopback",
            "smsc": f"{s.smpp_host}:{s.smpp_port}" if s.smpp_host else None,
            "scheduler": s.scheduler,
            "webhooks": s.webhooks,
            "clock": clock.now().isoformat(),
        },
    )
    checkpoints = Checkpointer.start_for(rt.engine)  # SQLite: no commit writes the WAL back
    with _signals(server) as stopping:
        web = asyncio.create_task(_web(server), name="http")
        signalled = asyncio.create_task(stopping.wait(), name="signal")
        # The engine and the jobs start once HTTP listens: a process that cannot serve
        # (the port is taken) takes no MO and runs no job before it exits.
        while not (server.started or web.done() or stopping.is_set()):
            await asyncio.sleep(0.01)
        running = server.started and not stopping.is_set()
        jobs = hooks = None
        if running:
            await engine.start()
            jobs = asyncio.create_task(scheduler.run(), name="scheduler") if scheduler else None
            hooks = asyncio.create_task(dispatcher.run(), name="webhooks") if dispatcher else None
        await asyncio.wait({web, signalled}, return_when=asyncio.FIRST_COMPLETED)
        failed = web.done() and not stopping.is_set()
        log.info("HTTP server ended; stopping" if failed else "vasguard stopping")
        signalled.cancel()
        server.should_exit = True
        if scheduler is not None:
            scheduler.stop()
        if dispatcher is not None:
            dispatcher.stop()
        if running:
            await asyncio.gather(engine.stop(), *(t for t in (jobs, hooks) if t is not None))
        ok = await web
    if checkpoints is not None:
        await asyncio.to_thread(checkpoints.stop)
    log.info("vasguard stopped")
    return 0 if ok and not failed else 1


async def _web(server: uvicorn.Server) -> bool:
    """Serve HTTP until told to stop; ``False`` if uvicorn gave up (e.g. port in use)."""
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits when it cannot listen; the process stops in order
        return False
    return server.started


@contextmanager
def _signals(server: uvicorn.Server) -> Iterator[asyncio.Event]:
    """SIGTERM and SIGINT set the event; a second one forces uvicorn's hand."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stopping.is_set():
            log.warning("second %s: dropping connections still open", sig.name)
            server.force_exit = True
        else:
            log.info("%s received", sig.name, extra={"signal": sig.name})
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield stopping
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _zones(rt: Runtime) -> set[str]:
    with rt.uow() as uow:
        return set(uow.reminders.zones().values())

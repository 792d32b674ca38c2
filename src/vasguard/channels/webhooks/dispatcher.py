"""The webhook dispatcher: pushes each partner's change feed to the URL it registered.

Every poll it numbers what has committed (``Feed.sequence``: one database's, or every
shard's from the national counter on a sharded deployment: ``services.sharded_feed``), finds
the webhooks with events past their cursor and not backing off, and starts one delivery
task per provider that has none in flight. A task posts the next events after the
cursor (``batch`` at most, in seq order, signed), moves the cursor on a 2xx and posts
the next batch at once; anything else — another status, a refused connection, no answer
within ``timeout`` — records the failure and a retry time (doubling from
``backoff_min`` to ``backoff_max``, with jitter) and the same events go again then.
Nothing is ever dropped: the cursor only moves on a 2xx, and a failing webhook is tried
for as long as it is registered (the feed keeps everything meanwhile).

So a provider's events arrive in seq order, at least once (a 2xx lost on its way back
is posted again), and partners are independent: each has its own task, and a URL that
hangs holds only its own. No database transaction is open while a request waits: the
reads before a POST and the write after it are short transactions of their own, in a
thread, so a dead URL costs the MO path nothing.

One dispatcher at a time delivers, across processes: it holds the named lock
``webhook-dispatcher`` while it runs (others keep trying it, and take over when the
holder stops or dies). Time for signatures and back-off comes from the injected clock;
only the waiting between polls is asyncio's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import datetime

import httpx
from prometheus_client import Counter
from sqlalchemy import Engine

from vasguard.channels.metrics import REGISTRY
from vasguard.domain.clock import Clock
from vasguard.domain.partner_feed import SIGNATURE_HEADER, sign, webhook_body
from vasguard.services.partner_feed import (
    Delivery,
    Feed,
    LocalFeed,
    due_webhooks,
    next_delivery,
    record_delivered,
    record_failed,
)
from vasguard.services.unit_of_work import UnitOfWork
from vasguard.store.locks import NamedLock, holding, named_lock

log = logging.getLogger("vasguard.channels.webhooks")

DISPATCHER_LOCK = "webhook-dispatcher"
USER_AGENT = "vasguard-webhooks/0.1"

POSTS = Counter(
    "vasguard_webhook_posts_total",
    "Webhook POSTs by result (delivered: a 2xx; failed: anything else, retried later)",
    ["result"],
    registry=REGISTRY,
)
EVENTS_DELIVERED = Counter(
    "vasguard_webhook_events_delivered_total",
    "Partner events delivered by webhook (answered 2xx)",
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one provider's delivery task came to in a pass."""

    provider_id: int
    delivered: int = 0  # events answered 2xx
    posts: int = 0
    error: str | None = None  # the failure that ended it, if one did
    retry_at: datetime | None = None


class WebhookDispatcher:
    """``new_uow`` and ``engine`` are the database of the webhooks and of the locks (the
    national one); ``feed`` is where the events are (default: that same database)."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        clock: Clock,
        engine: Engine,
        *,
        timeout: float = 10.0,
        backoff_min: float = 5.0,
        backoff_max: float = 3600.0,
        batch: int = 20,
        poll: float = 1.0,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        feed: Feed | None = None,
    ) -> None:
        self._new_uow = new_uow
        self._feed = feed if feed is not None else LocalFeed(new_uow)
        self._clock = clock
        self._engine = engine
        self._timeout = timeout
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._batch = batch
        self._poll = poll
        self._rng = rng
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._lock: NamedLock | None = None  # the dispatcher lock, while held
        self._in_flight: dict[int, asyncio.Task[Outcome]] = {}
        self._stopping: asyncio.Event | None = None

    # --- driving it ----------------------------------------------------------------------

    async def run_once(self) -> dict[int, Outcome]:
        """One pass (tests, and the loop's body): number the feed, deliver to every due
        webhook until it is drained or fails, and wait for that; outcomes by provider.
        Nothing when another dispatcher holds the lock."""
        own_client = self._client is None
        took = self._lock is None and await self._take_lock()
        try:
            if self._lock is None:
                return {}
            if own_client:
                self._client = self._new_client()
            tasks = await self._start_due()
            return {o.provider_id: o for o in await asyncio.gather(*tasks)}
        finally:
            if own_client and self._client is not None:
                client, self._client = self._client, None
                await client.aclose()
            if took:
                await self._release_lock()

    async def run(self) -> None:
        """Deliver as events come until ``stop()``; deliveries in flight are then cut
        short (their events are posted again by the next holder: at least once)."""
        self._stopping = asyncio.Event()
        self._client = self._new_client()
        log.info("webhook dispatcher started", extra={"poll_seconds": self._poll})
        try:
            while not self._stopping.is_set():
                try:
                    if self._lock is not None or await self._take_lock():
                        await self._start_due()
                except Exception:  # a failed pass (the database away) is tried again
                    log.exception("webhook pass failed; trying again at the next poll")
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._poll)
            in_flight = list(self._in_flight.values())
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()
            await self._release_lock()
            log.info("webhook dispatcher stopped")

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def in_flight(self) -> set[int]:
        """Providers with a delivery running now."""
        return set(self._in_flight)

    # --- a pass ---------------------------------------------------------------------------

    async def _start_due(self) -> list[asyncio.Task[Outcome]]:
        await asyncio.to_thread(self._feed.sequence, self._hold)
        due = await asyncio.to_thread(due_webhooks, self._feed, self._clock.now())
        started = []
        for provider_id in due:
            if provider_id in self._in_flight:
                continue  # one delivery at a time per provider: that is its order
            task = asyncio.create_task(self._deliver(provider_id), name=f"webhook-{provider_id}")
            self._in_flight[provider_id] = task
            task.add_done_callback(self._finished)
            started.append(task)
        return started

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        provider_id = int(task.get_name().removeprefix("webhook-"))
        if self._in_flight.get(provider_id) is task:
            del self._in_flight[provider_id]

    async def _deliver(self, provider_id: int) -> Outcome:
        """Post batch after batch until the provider's feed is drained or a post fails."""
        delivered = posts = 0
        try:
            while not (self._stopping is not None and self._stopping.is_set()):
                delivery = await asyncio.to_thread(
                    next_delivery,
                    self._new_uow,
                    self._feed,
                    provider_id,
                    self._clock.now(),
                    batch=self._batch,
                )
                if delivery is None:
                    break
                error = await self._post(delivery)
                posts += 1
                if error is not None:
                    POSTS.labels("failed").inc()
                    retry_at = await asyncio.to_thread(
                        record_failed,
                        self._new_uow,
                        self._clock,
                        delivery,
                        error,
                        backoff_min=self._backoff_min,
                        backoff_max=self._backoff_max,
                        rng=self._rng,
                    )
                    log.warning(
                        "webhook delivery failed; retrying later",
                        extra={
                            "provider_id": provider_id,
                            "attempts": delivery.webhook.attempts + 1,
                            "error": error,
                            "retry_at": retry_at.isoformat(),
                        },
                    )
                    return Outcome(provider_id, delivered, posts, error, retry_at)
                POSTS.labels("delivered").inc()
                EVENTS_DELIVERED.inc(len(delivery.events))
                delivered += len(delivery.events)
                if not await asyncio.to_thread(record_delivered, self._new_uow, delivery):
                    break  # the webhook changed meanwhile: the next pass reads it afresh
                if len(delivery.events) < self._batch:
                    break
        except Exception as failed:  # the database, not the partner: tried again next poll
            log.exception("webhook delivery broke off", extra={"provider_id": provider_id})
            return Outcome(provider_id, delivered, posts, f"{type(failed).__name__}: {failed}")
        return Outcome(provider_id, delivered, posts)

    async def _post(self, delivery: Delivery) -> str | None:
        """POST the batch, signed now; ``None`` for a 2xx, otherwise why not. The answer's
        body is never read."""
        assert self._client is not None
        body = webhook_body(delivery.events)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(delivery.webhook.secret, body, self._clock.now()),
        }
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.build_request(
                    "POST", delivery.webhook.url, content=body, headers=headers
                )
                response = await self._client.send(request, stream=True)
                await response.aclose()
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except Exception as failed:  # whatever the POST came to, it was not a 2xx
            return f"{type(failed).__name__}: {failed}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    # --- the lock and the client -------------------------------------------------------------

    def _hold(self, name: str) -> AbstractContextManager[bool]:
        return holding(self._engine, name)

    async def _take_lock(self) -> bool:
        lock = named_lock(self._engine, DISPATCHER_LOCK)
        if not await asyncio.to_thread(lock.acquire):
            return False
        self._lock = lock
        return True

    async def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            await asyncio.to_thread(lock.release)

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,  # a 3xx is not a delivery; register the final URL
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
            transport=self._transport,
        )

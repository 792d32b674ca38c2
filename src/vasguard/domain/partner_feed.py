"""What a partner learns of its own services' subscriptions, and how a webhook is signed.

A partner event is written in the transaction of the change it tells of (a confirmation,
an ending, a complaint), so it exists exactly when the change does. It carries what the
partner's own order needs and nothing more of the subscriber: the subscription, the
service code, the partner's ``order_ref``, the number it ordered for, when and why.

The feed and the webhooks number events by ``seq``, given after commit by one sequencer
at a time in commit order; a partner pages by it and dedupes by it. On a sharded
deployment the seqs of every shard come from one national counter, so the order and the
cursor stay one integer (``services.sharded_feed``). A webhook body is
signed as ``Vasguard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
with the partner's own secret; ``verify`` is what a receiver runs (docs/partner-feed.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from vasguard.domain.refusals import InvalidInput

# One sequencer at a time numbers the feed (``services/partner_feed``); a move between
# shards holds it too, so no event is numbered on the source after its copy was taken.
SEQUENCER_LOCK = "partner-feed-sequencer"
SIGNATURE_HEADER = "Vasguard-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300  # what a receiver should accept; the docs say so
SECRET_MIN_LENGTH = 16
SECRET_MAX_LENGTH = 128
URL_MAX_LENGTH = 500


class PartnerEventKind(StrEnum):
    CONFIRMED = "confirmed"  # the customer's 是: the order is now a subscription
    DECLINED = "declined"  # the customer's 否: the order ended unconfirmed
    EXPIRED = "expired"  # the confirmation window closed without an answer
    CANCELLED = "cancelled"  # an active (or pending) subscription ended; ``cause`` says how
    COMPLAINT_OPENED = "complaint_opened"  # TS about the service; ``ticket`` names it


@dataclass(frozen=True, slots=True)
class PartnerEvent:
    """A change a partner is told of, as written with the change (no ``seq`` yet).

    ``cause`` is the ``EndCause`` of an ending (``listing_cancel``: a reply to the 0000
    listing; ``td_reminder``: TD after a charge reminder; ``td_code``: TD + the service
    code; ``cancel_all``; ``declined``; ``unconfirmed``; and whatever later causes, such
    as the care desk's, add), and ``mo`` for a confirmation or complaint by SMS.
    """

    provider_id: int
    subscriber_id: int
    province: str
    subscription_id: int
    kind: PartnerEventKind
    at: datetime
    service_code: str
    msisdn: str
    order_ref: str | None
    cause: str
    ticket: str | None = None

    def payload(self) -> dict[str, Any]:
        """What is stored beside the row's kind and time: the rest of the document."""
        return {
            "subscription_id": self.subscription_id,
            "service": self.service_code,
            "order_ref": self.order_ref,
            "msisdn": self.msisdn,
            "cause": self.cause,
            "ticket": self.ticket,
        }


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """A sequenced partner event, as the feed and the webhooks hand it out."""

    seq: int
    kind: str
    at: datetime
    payload: dict[str, Any]

    def document(self) -> dict[str, Any]:
        """The JSON object a partner receives, the same in the feed and in a webhook."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": instant_text(self.at),
            **self.payload,
        }


def instant_text(at: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, as the API writes every instant."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_body(events: list[FeedEvent]) -> bytes:
    """The bytes posted to a webhook: ``{"events": [...]}`` in seq order, UTF-8 JSON."""
    document = {"events": [e.document() for e in events]}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


# --- signatures: Stripe's scheme ---------------------------------------------------------


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, at: datetime) -> str:
    """The ``Vasguard-Signature`` header value for ``body`` sent at ``at``."""
    timestamp = int(at.timestamp())
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    now: datetime,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` by ``secret``, made within
    ``tolerance`` seconds of ``now`` (either way: a replayed old delivery fails).

    ``body`` must be the raw bytes received, before any JSON parsing. Any ``v1`` entry
    may match (several are allowed, for a secret being changed); comparison is in
    constant time.
    """
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


# --- webhooks: registration and retry -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Webhook:
    """A partner's webhook and how far delivery has come (``delivered_seq``: every event
    of the partner up to it has been answered 2xx)."""

    provider_id: int
    url: str
    secret: str
    delivered_seq: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    updated_at: datetime


def check_webhook(url: str, secret: str) -> str:
    """The URL to keep, or ``InvalidInput`` saying what is wrong (nothing is stored)."""
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        raise InvalidInput(f"the webhook URL is longer than {URL_MAX_LENGTH} characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise InvalidInput(f"{url[:80]!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{url[:80]!r} is not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("the webhook URL must not carry credentials; the signature does")
    if not url.isascii() or any(c.isspace() for c in url):
        raise InvalidInput("the webhook URL must be ASCII without spaces (percent-encode it)")
    if not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH:
        raise InvalidInput(
            f"the webhook secret must be {SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} characters"
        )
    return url


_JITTER = random.Random()


def retry_delay(
    attempts: int, minimum: float, maximum: float, rng: random.Random | None = None
) -> timedelta:
    """How long to wait after the ``attempts``-th failure in a row: doubling from
    ``minimum``, capped at ``maximum``, then jittered down to as little as half, so many
    partners' webhooks failed by one outage do not all come back at the same instant."""
    base = min(maximum, minimum * 2 ** max(0, min(attempts - 1, 40)))
    jitter = 0.5 + 0.5 * (rng if rng is not None else _JITTER).random()
    return timedelta(seconds=base * jitter)


def delivery_error(text: str) -> str:
    """What ``last_error`` keeps of a failure: one line, at most 200 characters."""
    line = " ".join(text.split())
    return line[:200]

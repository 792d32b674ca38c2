"""The schema, declared once. Every customer table carries ``subscriber_id`` and
``province`` so it can be distributed by subscriber or split by province (see docs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
)
from sqlalchemy.sql.elements import ColumnElement

from vasguard.store.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# An id column that is BIGINT on PostgreSQL and the rowid alias on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

# --- catalogue (small, replicated to every node when distributed) -------------------

provinces = Table(
    "provinces",
    metadata,
    Column("code", String(2), primary_key=True),
    Column("name", String(20), nullable=False),
    Column("name_en", String(40), nullable=False),
    Column("timezone", String(40), nullable=False),
)

providers = Table(
    "providers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(12), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("access_number", String(21), nullable=False),
    CheckConstraint("kind IN ('operator', 'partner')", name="kind"),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(21), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("provider_id", Integer, ForeignKey("providers.id"), nullable=False, index=True),
    Column("category", String(20), nullable=False),
    Column("billing_mode", String(8), nullable=False),
    Column("price_fen", Integer, nullable=False),
    # NULL: the charge reminder applies; otherwise why this service cannot be covered.
    Column("reminder_exempt_reason", String(200)),
    Column("group_service", Boolean, nullable=False, default=False),
    Column("group_paid", Boolean, nullable=False, default=False),
    Column("listed_until", UtcDateTime()),
    CheckConstraint("billing_mode IN ('monthly', 'per_use', 'free')", name="billing_mode"),
    CheckConstraint("price_fen >= 0", name="price"),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("monthly_fee_fen", Integer, nullable=False),
    CheckConstraint("monthly_fee_fen >= 0", name="fee"),
)

plan_services = Table(
    "plan_services",
    metadata,
    Column("plan_id", Integer, ForeignKey("plans.id"), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
)

# --- customers (grow with subscribers; distributed by subscriber_id) -------------------

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("msisdn", String(11), nullable=False, unique=True),
    Column("province", String(2), ForeignKey("provinces.code"), nullable=False),
    Column("language", String(2), nullable=False, default="zh"),
    Column("status", String(10), nullable=False, default="active"),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("language IN ('zh', 'en')", name="language"),
    # 'moving': being copied to another shard (``vasguard shards move``); its MOs and
    # requests are refused for a moment, to be sent again.
    CheckConstraint("status IN ('active', 'suspended', 'closed', 'moving')", name="status"),
    # The API's lists: a filter value then the id, so a page is one index range.
    Index("ix_subscribers_province_id", "province", "id"),
    Index("ix_subscribers_status_id", "status", "id"),
)

subscriber_plans = Table(
    "subscriber_plans",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("plan_id", Integer, ForeignKey("plans.id"), nullable=False),
    Column("effective_from", UtcDateTime(), nullable=False),
    Column("effective_to", UtcDateTime()),
    Column("ordered_at", UtcDateTime(), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("order_notice_mt_id", Id),
    Column("effective_notice_mt_id", Id),
    Index("ix_subscriber_plans_subscriber", "subscriber_id", "effective_from"),
    Index("ix_subscriber_plans_effective", "effective_from", "effective_notice_mt_id"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("state", String(22), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("order_ref", String(64)),
    Column("ordered_at", UtcDateTime(), nullable=False),
    Column("confirmation_code", String(4)),
    Column("confirm_by", UtcDateTime()),
    Column("request_mt_id", Id),
    Column("confirmed_at", UtcDateTime()),
    Column("confirmation_mo_id", Id),
    Column("reminder_mt_id", Id),
    Column("reminder_queued_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    Column("end_cause", String(40)),
    Column("end_message_id", Id),
    CheckConstraint(
        "state IN ('pending_confirmation', 'active', 'cancelled', 'expired')", name="state"
    ),
    CheckConstraint(
        "state <> 'active' OR (confirmed_at IS NOT NULL AND confirmation_mo_id IS NOT NULL)",
        name="active_has_evidence",
    ),
    Index("ix_subscriptions_subscriber", "subscriber_id", "state"),
    Index("ix_subscriptions_service", "service_id", "state"),
    Index("ix_subscriptions_service_id", "service_id", "id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id),
    Column("province", String(2)),
    Column("msisdn", String(21), nullable=False),
    Column("direction", String(2), nullable=False),
    Column("service_number", String(21), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("encoding", String(5), nullable=False),
    Column("parts", SmallInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("smsc_message_id", String(64)),
    Column("in_reply_to", Id),
    Column("subscription_id", Id),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("send_after", UtcDateTime()),
    Column("sent_at", UtcDateTime()),
    Column("receipt_status", String(10)),
    Column("receipt_at", UtcDateTime()),
    # MO only: set when the dialogue acted on it, so a redelivery after a crash is retried.
    Column("handled_at", UtcDateTime()),
    CheckConstraint("direction IN ('mo', 'mt')", name="direction"),
    CheckConstraint(
        "status IN ('received', 'queued', 'sent', 'delivered', 'failed')", name="status"
    ),
    # An MO delivered twice by the SMSC carries the same id: it is stored (and acted on) once.
    UniqueConstraint("direction", "smsc_message_id"),
    Index("ix_messages_subscriber", "subscriber_id", "created_at"),
)

# --- MT parts: what the sender claims, submits and matches receipts to (invariant 11) ---
# Written when an MT is first claimed, so queuing a reply stays one batched insert. A part
# is claimed (claimed_by, until claimed_until, which is also its next_attempt_at) by one
# sender; once its smsc_message_id is stored it is 'submitted' and never sent again.

message_parts = Table(
    "message_parts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", Id, ForeignKey("messages.id"), nullable=False),
    Column("subscriber_id", Id),
    Column("province", String(2)),
    Column("number", SmallInteger, nullable=False),
    Column("parts", SmallInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_until", UtcDateTime()),
    Column("smsc_message_id", String(64)),
    Column("submitted_at", UtcDateTime()),
    Column("settled_at", UtcDateTime()),
    # The SMPP status name of a refusal, or the receipt's stat (UNDELIV, EXPIRED, ...).
    Column("error", String(40)),
    CheckConstraint(
        "state IN ('queued', 'claimed', 'submitted', 'delivered', 'failed')", name="state"
    ),
    UniqueConstraint("message_id", "number"),
    Index("ix_message_parts_smsc_message_id", "smsc_message_id"),
)

# A receipt whose SMSC id no part carries yet (it came before its submit_sm_resp was
# stored): kept here and applied when the id lands.
unmatched_receipts = Table(
    "unmatched_receipts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("smsc_message_id", String(64), nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("stat", String(10), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_unmatched_receipts_smsc_message_id", "smsc_message_id"),
)

# Parts of a concatenated MO, kept (and acknowledged) until the last one arrives; the
# reassembled MO then goes to the intake and its parts are deleted.
mo_fragments = Table(
    "mo_fragments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sender", String(21), nullable=False),
    Column("destination", String(21), nullable=False),
    Column("reference", Integer, nullable=False),
    Column("total", SmallInteger, nullable=False),
    Column("seqnum", SmallInteger, nullable=False),
    Column("data_coding", SmallInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    UniqueConstraint("sender", "destination", "reference", "total", "seqnum"),
    Index("ix_mo_fragments_received_at", "received_at"),
)

charges = Table(
    "charges",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("subscription_id", Id),
    Column("subscriber_plan_id", Id),
    Column("period", String(7), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("bill_run_id", Id),
    Column("confirmation_mo_id", Id),
    Column("reminder_mt_id", Id),
    Column("reminder_status", String(10)),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("amount_fen >= 0", name="amount"),
    CheckConstraint("kind IN ('first', 'renewal', 'plan')", name="kind"),
    CheckConstraint("(subscription_id IS NULL) <> (subscriber_plan_id IS NULL)", name="one_source"),
    UniqueConstraint("subscription_id", "period"),
    UniqueConstraint("subscriber_plan_id", "period"),
    Index("ix_charges_period", "period", "province"),
    Index("ix_charges_subscriber", "subscriber_id", "period"),
    Index("ix_charges_period_id", "period", "id"),  # the API's list of a period
)

complaints = Table(
    "complaints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ticket", String(20), nullable=False, unique=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("subscription_id", Id),
    Column("provider_id", Integer),
    Column("text", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("mo_id", Id),
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime()),
    Column("resolution", String(200)),
    CheckConstraint("status IN ('open', 'resolved')", name="status"),
    Index("ix_complaints_subscriber", "subscriber_id", "status"),
    Index("ix_complaints_subscription", "subscription_id", "status"),
    # The API's lists: open complaints, one partner's.
    Index("ix_complaints_status_id", "status", "id"),
    Index("ix_complaints_provider_id_id", "provider_id", "id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id),
    Column("province", String(2)),
    Column("entity", String(20), nullable=False),
    Column("entity_id", Id),
    Column("kind", String(30), nullable=False),
    Column("cause_kind", String(10), nullable=False),
    Column("cause_ref", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("detail", Text),
    # By subscriber, as care reads them; a subscription's history is within its subscriber's.
    Index("ix_events_subscriber", "subscriber_id", "at"),
)

# --- the 0000 listing: numbers belong to one listing, valid for a while -----------------

listings = Table(
    "listings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("mo_id", Id, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    # QX asks first: the code to send back (是{code}) and until when it counts.
    Column("cancel_all_code", String(4)),
    Column("cancel_all_until", UtcDateTime()),
    Index("ix_listings_subscriber", "subscriber_id", "created_at"),
)

listing_items = Table(
    "listing_items",
    metadata,
    Column("listing_id", Id, ForeignKey("listings.id"), primary_key=True),
    Column("number", SmallInteger, primary_key=True),
    Column("subscription_id", Id, nullable=False),
    Column("subscriber_id", Id, nullable=False),
    Column("province", String(2), nullable=False),
)

# --- billing ---------------------------------------------------------------------------

bill_runs = Table(
    "bill_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("period", String(7), nullable=False),
    Column("run_at", UtcDateTime(), nullable=False),
    Column("status", String(10), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    # Resume point: the highest subscriber id whose charges are committed.
    Column("cursor", Id, nullable=False, default=0),
    Column("charged_count", Integer, nullable=False, default=0),
    Column("charged_fen", BigInteger, nullable=False, default=0),
    Column("summary", Text),
    # The charging policy the run applied (JSON), so the audit checks against the same rules.
    Column("policy", Text),
    CheckConstraint("status IN ('running', 'finished', 'failed')", name="status"),
    Index("ix_bill_runs_period", "period", "status"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True),
    Column("charge_id", Id, ForeignKey("charges.id"), nullable=False, unique=True),
    Column("subscriber_id", Id, nullable=False),
    Column("province", String(2), nullable=False),
    Column("complaint_id", Id),
    Column("amount_fen", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("cause_ref", String(64), nullable=False),
    CheckConstraint("amount_fen > 0", name="amount"),
    Index("ix_refunds_subscriber", "subscriber_id", "created_at"),
)


# --- the dashboard's daily figures (domain/figures.py), recounted by the figures job ------
# One row per local day, province and provider, a column per figure. Besides the rows of
# one province and one provider, each recount writes their sums: ``province``
# ALL_PROVINCES ("00") is every province, ``provider_id`` ALL_PROVIDERS (-1) every provider
# (and none: 0), and both together; and, for every month it touched, each provider's
# month over every province (``day`` "M" + YYYY-MM), the scorecards' rows, and each
# provider's last 7, 30 and 90 days ("L030" + YYMMDD). ``held`` is NULL where not counted.

daily_figures = Table(
    "daily_figures",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD local, MYYYY-MM, LnnnYYMMDD
    Column("province", String(2), primary_key=True),
    Column("provider_id", Integer, primary_key=True),
    *(
        Column(name, BigInteger, nullable=False)
        for name in (
            "orders",
            "confirmations",
            "reminders_sent",
            "reminders_delivered",
            "reminder_cancels",
            "listings",
            "listing_cancels",
            "cancellations",
            "complaints",
            "charges",
            "refunds",
            "charged_fen",
            "refunded_fen",
        )
    ),
    Column("held", BigInteger),
    Column("refreshed_at", UtcDateTime(), nullable=False),
    Index("ix_daily_figures_province_provider_day", "province", "provider_id", "day"),
    # The sums over every provider, by day: the dashboard's days and provinces read these.
    Index(
        "ix_daily_figures_every_provider",
        "day",
        "province",
        postgresql_where=literal_column("provider_id = -1"),
        sqlite_where=literal_column("provider_id = -1"),
    ),
)

# --- access: API keys, idempotency, the partner change feed and its webhooks ------------

# A key is shown once; only the SHA-256 of its secret is kept. ``key_id`` is the public
# part of the key (it finds the row); ``provider_id`` binds a partner key to its provider,
# ``province`` limits a key to one province's subscribers.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(10), nullable=False),
    Column("provider_id", Integer, ForeignKey("providers.id")),
    Column("province", String(2), ForeignKey("provinces.code")),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("revoked_at", UtcDateTime()),
    CheckConstraint("role IN ('operator', 'care', 'partner', 'gateway')", name="role"),
    CheckConstraint("(role = 'partner') = (provider_id IS NOT NULL)", name="partner_provider"),
)

# A POST that creates, keyed by the caller's Idempotency-Key: the first one's answer is
# kept and replayed to a retry. The row is inserted before the work, so of two concurrent
# requests with the same key only one does it.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("request_sha256", LargeBinary, nullable=False),
    Column("status_code", SmallInteger),
    Column("response", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
)

# What a partner learns of its services' subscriptions, written in the transaction of the
# change itself. ``seq`` is given later, by one sequencer at a time, in commit order: the
# feed's cursor and the webhooks' order (an id can commit after a higher one; a seq cannot).
partner_events = Table(
    "partner_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("provider_id", Integer, nullable=False),
    Column("subscription_id", Id),
    Column("subscriber_id", Id),
    Column("province", String(2)),
    Column("kind", String(30), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
    Column("seq", BigInteger, unique=True),
    Index("ix_partner_events_provider_seq", "provider_id", "seq"),
)

# A partner's webhook: where to post its feed, the secret it is signed with (kept as
# given: the platform must sign with it), and how far delivery has come.
webhooks = Table(
    "webhooks",
    metadata,
    Column("provider_id", Integer, ForeignKey("providers.id"), primary_key=True),
    Column("url", String(500), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("delivered_seq", BigInteger, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime()),
    Column("last_error", String(200)),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# The national order of the feed on a sharded deployment (one row, national database):
# ``reserved`` is the last seq handed to a shard's sequencing, ``published`` the
# high-water mark readers stop at, every seq up to it committed on its shard.
partner_feed_counter = Table(
    "partner_feed_counter",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("reserved", BigInteger, nullable=False),
    Column("published", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
    CheckConstraint("published <= reserved", name="published_reserved"),
)

# A web console login: the browser holds a random session id in a cookie, the store only
# its SHA-256 (a copy of this table opens no session). Each request checks the key behind
# it, so revoking the key ends the session; ``csrf_token`` is asked of every form.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token_sha256", LargeBinary, nullable=False, unique=True),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
)

# The customer's own page: one-time codes sent by SMS (a salted scrypt hash of the code,
# never the code), and the logins they open (the SHA-256 of the session id, as above).
login_codes = Table(
    "login_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("code_hash", LargeBinary, nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("message_id", Id, ForeignKey("messages.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("tries", SmallInteger, nullable=False),
    Column("used_at", UtcDateTime()),
    Index("ix_login_codes_subscriber", "subscriber_id", "created_at"),
)

customer_sessions = Table(
    "customer_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token_sha256", LargeBinary, nullable=False, unique=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("province", String(2), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
)

# A number ported to a province other than its segment's, so to another shard: routing
# asks here first (national database only; see ``Runtime.shard_of``).
ported_numbers = Table(
    "ported_numbers",
    metadata,
    Column("msisdn", String(11), primary_key=True),
    Column("province", String(2), ForeignKey("provinces.code"), nullable=False),
    Column("moved_at", UtcDateTime(), nullable=False),
)

# --- partial indexes: only the rows a job looks for --------------------------------------
# A row enters or leaves them only when it starts or stops being wanted, so the online
# dialogue (an MO stored, a subscription cancelled) rewrites no page of them. A query uses
# one only if it states the same predicate with the same literals: use these expressions.

QUEUED = messages.c.status == literal_column("'queued'")
PART_PENDING = message_parts.c.state.in_([literal_column("'queued'"), literal_column("'claimed'")])
PENDING_CONFIRMATION = subscriptions.c.state == literal_column("'pending_confirmation'")
AWAITING_REMINDER = and_(
    subscriptions.c.state == literal_column("'active'"), subscriptions.c.reminder_mt_id.is_(None)
)
UNSEQUENCED = partner_events.c.seq.is_(None)


def _partial(name: str, where: ColumnElement[bool], *columns: Column[Any]) -> Index:
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


_partial("ix_messages_queued", QUEUED, messages.c.send_after, messages.c.id)
# The sender claims pending parts by when they are next due (a claim's lease included).
_partial("ix_message_parts_pending", PART_PENDING, message_parts.c.next_attempt_at)
# The feed's sequencer numbers the rows it has not numbered yet, in id order.
_partial("ix_partner_events_unsequenced", UNSEQUENCED, partner_events.c.id)
# The expiry job walks the requests awaiting confirmation in id order.
_partial(
    "ix_subscriptions_pending_confirm_by",
    PENDING_CONFIRMATION,
    subscriptions.c.id,
    subscriptions.c.confirm_by,
)
# The reminder job walks the rows awaiting their reminder in id order, chunk after chunk.
_partial("ix_subscriptions_awaiting_reminder", AWAITING_REMINDER, subscriptions.c.id)

"""foundation schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:28:24.646456
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("cause_kind", sa.String(length=10), nullable=False),
        sa.Column("cause_ref", sa.String(length=64), nullable=False),
        sa.Column("at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_entity", ["entity", "entity_id"], unique=False)
        batch_op.create_index("ix_events_subscriber", ["subscriber_id", "at"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("msisdn", sa.String(length=21), nullable=False),
        sa.Column("direction", sa.String(length=2), nullable=False),
        sa.Column("service_number", sa.String(length=21), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=5), nullable=False),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=True),
        sa.Column(
            "in_reply_to", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("send_after", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("sent_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("receipt_status", sa.String(length=10), nullable=True),
        sa.Column("receipt_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("handled_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.CheckConstraint("direction IN ('mo', 'mt')", name=op.f("ck_messages_direction")),
        sa.CheckConstraint(
            "status IN ('received', 'queued', 'sent', 'delivered', 'failed')",
            name=op.f("ck_messages_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "direction", "smsc_message_id", name=op.f("uq_messages_direction_smsc_message_id")
        ),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_outbox", ["status", "send_after"], unique=False)
        batch_op.create_index(
            "ix_messages_subscriber", ["subscriber_id", "created_at"], unique=False
        )

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("monthly_fee_fen", sa.Integer(), nullable=False),
        sa.CheckConstraint("monthly_fee_fen >= 0", name=op.f("ck_plans_fee")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("access_number", sa.String(length=21), nullable=False),
        sa.CheckConstraint("kind IN ('operator', 'partner')", name=op.f("ck_providers_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("code", name=op.f("uq_providers_code")),
    )
    op.create_table(
        "provinces",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("name_en", sa.String(length=40), nullable=False),
        sa.Column("timezone", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_provinces")),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("billing_mode", sa.String(length=8), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("reminder_exempt_reason", sa.String(length=200), nullable=True),
        sa.Column("group_service", sa.Boolean(), nullable=False),
        sa.Column("group_paid", sa.Boolean(), nullable=False),
        sa.Column("listed_until", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "billing_mode IN ('monthly', 'per_use', 'free')", name=op.f("ck_services_billing_mode")
        ),
        sa.CheckConstraint("price_fen >= 0", name=op.f("ck_services_price")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_services_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("code", name=op.f("uq_services_code")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "subscribers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.CheckConstraint("language IN ('zh', 'en')", name=op.f("ck_subscribers_language")),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'closed')", name=op.f("ck_subscribers_status")
        ),
        sa.ForeignKeyConstraint(
            ["province"], ["provinces.code"], name=op.f("fk_subscribers_province_provinces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("msisdn", name=op.f("uq_subscribers_msisdn")),
    )
    op.create_table(
        "charges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "subscriber_plan_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column(
            "bill_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "confirmation_mo_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "reminder_mt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reminder_status", sa.String(length=10), nullable=True),
        sa.Column("created_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('first', 'renewal', 'plan')", name=op.f("ck_charges_kind")),
        sa.CheckConstraint(
            "(subscription_id IS NULL) <> (subscriber_plan_id IS NULL)",
            name=op.f("ck_charges_one_source"),
        ),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_charges_amount")),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"], name=op.f("fk_charges_subscriber_id_subscribers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint(
            "subscriber_plan_id", "period", name=op.f("uq_charges_subscriber_plan_id_period")
        ),
        sa.UniqueConstraint(
            "subscription_id", "period", name=op.f("uq_charges_subscription_id_period")
        ),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index("ix_charges_period", ["period", "province"], unique=False)
        batch_op.create_index("ix_charges_subscriber", ["subscriber_id", "period"], unique=False)

    op.create_table(
        "complaints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("mo_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("opened_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("resolution", sa.String(length=200), nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_complaints_status")),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_complaints_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("ticket", name=op.f("uq_complaints_ticket")),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_subscriber", ["subscriber_id", "status"], unique=False)
        batch_op.create_index(
            "ix_complaints_subscription", ["subscription_id", "status"], unique=False
        )

    op.create_table(
        "plan_services",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_services_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_plan_services_service_id_services")
        ),
        sa.PrimaryKeyConstraint("plan_id", "service_id", name=op.f("pk_plan_services")),
    )
    op.create_table(
        "subscriber_plans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("effective_to", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("ordered_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_subscriber_plans_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_plans_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_plans")),
    )
    with op.batch_alter_table("subscriber_plans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriber_plans_subscriber", ["subscriber_id", "effective_from"], unique=False
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=22), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=True),
        sa.Column("ordered_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("confirmation_code", sa.String(length=4), nullable=True),
        sa.Column("confirm_by", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column(
            "request_mt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("confirmed_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column(
            "confirmation_mo_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "reminder_mt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reminder_queued_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("ended_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("end_cause", sa.String(length=40), nullable=True),
        sa.Column(
            "end_message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.CheckConstraint(
            "state <> 'active' OR (confirmed_at IS NOT NULL AND confirmation_mo_id IS NOT NULL)",
            name=op.f("ck_subscriptions_active_has_evidence"),
        ),
        sa.CheckConstraint(
            "state IN ('pending_confirmation', 'active', 'cancelled', 'expired')",
            name=op.f("ck_subscriptions_state"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_subscriptions_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriptions_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_reminder_due",
            ["state", "reminder_mt_id", "confirmed_at"],
            unique=False,
        )
        batch_op.create_index("ix_subscriptions_service", ["service_id", "state"], unique=False)
        batch_op.create_index(
            "ix_subscriptions_state_confirm_by", ["state", "confirm_by"], unique=False
        )
        batch_op.create_index(
            "ix_subscriptions_subscriber", ["subscriber_id", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_subscriber")
        batch_op.drop_index("ix_subscriptions_state_confirm_by")
        batch_op.drop_index("ix_subscriptions_service")
        batch_op.drop_index("ix_subscriptions_reminder_due")

    op.drop_table("subscriptions")
    with op.batch_alter_table("subscriber_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_plans_subscriber")

    op.drop_table("subscriber_plans")
    op.drop_table("plan_services")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_subscription")
        batch_op.drop_index("ix_complaints_subscriber")

    op.drop_table("complaints")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_subscriber")
        batch_op.drop_index("ix_charges_period")

    op.drop_table("charges")
    op.drop_table("subscribers")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_provider_id"))

    op.drop_table("services")
    op.drop_table("provinces")
    op.drop_table("providers")
    op.drop_table("plans")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_subscriber")
        batch_op.drop_index("ix_messages_outbox")

    op.drop_table("messages")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_subscriber")
        batch_op.drop_index("ix_events_entity")

    op.drop_table("events")

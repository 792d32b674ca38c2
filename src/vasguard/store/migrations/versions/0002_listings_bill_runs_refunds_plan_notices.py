"""listings, bill runs, refunds, plan notices

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:29:09.053217
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bill_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("run_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charged_count", sa.Integer(), nullable=False),
        sa.Column("charged_fen", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed')", name=op.f("ck_bill_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_runs")),
    )
    with op.batch_alter_table("bill_runs", schema=None) as batch_op:
        batch_op.create_index("ix_bill_runs_period", ["period", "status"], unique=False)

    op.create_table(
        "listings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("mo_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("cancel_all_code", sa.String(length=4), nullable=True),
        sa.Column("cancel_all_until", vasguard.store.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_listings_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_listings_subscriber", ["subscriber_id", "created_at"], unique=False
        )

    op.create_table(
        "listing_items",
        sa.Column(
            "listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_listing_items_listing_id_listings")
        ),
        sa.PrimaryKeyConstraint("listing_id", "number", name=op.f("pk_listing_items")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "charge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column(
            "complaint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("created_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.Column("cause_ref", sa.String(length=64), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_refunds_amount")),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_refunds_charge_id_charges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_refunds_charge_id")),
    )
    with op.batch_alter_table("subscriber_plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "order_notice_mt_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "effective_notice_mt_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_subscriber_plans_effective",
            ["effective_from", "effective_notice_mt_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriber_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_plans_effective")
        batch_op.drop_column("effective_notice_mt_id")
        batch_op.drop_column("order_notice_mt_id")

    op.drop_table("refunds")
    op.drop_table("listing_items")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_subscriber")

    op.drop_table("listings")
    with op.batch_alter_table("bill_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_runs_period")

    op.drop_table("bill_runs")

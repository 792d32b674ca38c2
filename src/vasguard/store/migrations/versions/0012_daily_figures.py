"""The dashboard's daily figures, recounted by the figures job.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("confirmations", sa.BigInteger(), nullable=False),
        sa.Column("reminders_sent", sa.BigInteger(), nullable=False),
        sa.Column("reminders_delivered", sa.BigInteger(), nullable=False),
        sa.Column("reminder_cancels", sa.BigInteger(), nullable=False),
        sa.Column("listings", sa.BigInteger(), nullable=False),
        sa.Column("listing_cancels", sa.BigInteger(), nullable=False),
        sa.Column("cancellations", sa.BigInteger(), nullable=False),
        sa.Column("complaints", sa.BigInteger(), nullable=False),
        sa.Column("charges", sa.BigInteger(), nullable=False),
        sa.Column("refunds", sa.BigInteger(), nullable=False),
        sa.Column("charged_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=True),
        sa.Column("refreshed_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "province", "provider_id", name=op.f("pk_daily_figures")),
    )
    op.create_index(
        "ix_daily_figures_province_provider_day",
        "daily_figures",
        ["province", "provider_id", "day"],
        unique=False,
    )
    every_provider = sa.text("provider_id = -1")
    op.create_index(
        "ix_daily_figures_every_provider",
        "daily_figures",
        ["day", "province"],
        unique=False,
        postgresql_where=every_provider,
        sqlite_where=every_provider,
    )


def downgrade() -> None:
    op.drop_index("ix_daily_figures_every_provider", table_name="daily_figures")
    op.drop_index("ix_daily_figures_province_provider_day", table_name="daily_figures")
    op.drop_table("daily_figures")

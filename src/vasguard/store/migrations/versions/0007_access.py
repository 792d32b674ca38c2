"""Access control and the partner change feed: API keys, idempotency keys, partner
events (numbered in commit order by the sequencer) and the partners' webhooks.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    instant = vasguard.store.types.UtcDateTime
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("secret_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", instant(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", instant(), nullable=True),
        sa.CheckConstraint(
            "role IN ('operator', 'care', 'partner', 'gateway')", name=op.f("ck_api_keys_role")
        ),
        sa.CheckConstraint(
            "(role = 'partner') = (provider_id IS NOT NULL)",
            name=op.f("ck_api_keys_partner_provider"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_api_keys_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["province"], ["provinces.code"], name=op.f("fk_api_keys_province_provinces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("request_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", instant(), nullable=False),
        sa.Column("completed_at", instant(), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_idempotency_keys_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("api_key_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "partner_events",
        sa.Column("id", _id(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", _id(), nullable=True),
        sa.Column("subscriber_id", _id(), nullable=True),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("at", instant(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_partner_events_seq")),
    )
    op.create_index("ix_partner_events_provider_seq", "partner_events", ["provider_id", "seq"])
    op.create_index(
        "ix_partner_events_unsequenced",
        "partner_events",
        ["id"],
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "webhooks",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", instant(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("updated_at", instant(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_webhooks_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_webhooks")),
    )


def downgrade() -> None:
    op.drop_table("webhooks")
    op.drop_index("ix_partner_events_unsequenced", table_name="partner_events")
    op.drop_index("ix_partner_events_provider_seq", table_name="partner_events")
    op.drop_table("partner_events")
    op.drop_table("idempotency_keys")
    op.drop_table("api_keys")

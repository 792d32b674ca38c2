"""The customer's own page: one-time login codes sent by SMS and the logins they open.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    instant = vasguard.store.types.UtcDateTime
    op.create_table(
        "login_codes",
        sa.Column("id", _id(), nullable=False),
        sa.Column("subscriber_id", _id(), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("created_at", instant(), nullable=False),
        sa.Column("expires_at", instant(), nullable=False),
        sa.Column("tries", sa.SmallInteger(), nullable=False),
        sa.Column("used_at", instant(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_login_codes_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_login_codes_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_codes")),
    )
    op.create_index(
        "ix_login_codes_subscriber", "login_codes", ["subscriber_id", "created_at"], unique=False
    )
    op.create_table(
        "customer_sessions",
        sa.Column("id", _id(), nullable=False),
        sa.Column("token_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("subscriber_id", _id(), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", instant(), nullable=False),
        sa.Column("expires_at", instant(), nullable=False),
        sa.Column("ended_at", instant(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_customer_sessions_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_customer_sessions_token_sha256")),
    )


def downgrade() -> None:
    op.drop_table("customer_sessions")
    op.drop_index("ix_login_codes_subscriber", table_name="login_codes")
    op.drop_table("login_codes")

"""MT parts claimed by the sender, receipts awaiting their part, concatenated MO parts.

``message_parts`` holds each MT part from its first claim on: who claimed it and until
when, the SMSC id of its submit_sm_resp (a part with one is never submitted again, across
restarts: invariant 11) and its receipt. ``unmatched_receipts`` keeps a receipt that came
before its part's SMSC id was stored. ``mo_fragments`` keeps the parts of a concatenated
MO, acknowledged once stored, until the message is complete.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PENDING = "state IN ('queued', 'claimed')"


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    instant = vasguard.store.types.UtcDateTime
    op.create_table(
        "message_parts",
        sa.Column("id", _id(), nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("subscriber_id", _id(), nullable=True),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", instant(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", instant(), nullable=True),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", instant(), nullable=True),
        sa.Column("settled_at", instant(), nullable=True),
        sa.Column("error", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'claimed', 'submitted', 'delivered', 'failed')",
            name=op.f("ck_message_parts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_parts_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_parts")),
        sa.UniqueConstraint(
            "message_id", "number", name=op.f("uq_message_parts_message_id_number")
        ),
    )
    op.create_index("ix_message_parts_smsc_message_id", "message_parts", ["smsc_message_id"])
    op.create_index(
        "ix_message_parts_pending",
        "message_parts",
        ["next_attempt_at"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )
    op.create_table(
        "unmatched_receipts",
        sa.Column("id", _id(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("stat", sa.String(length=10), nullable=False),
        sa.Column("at", instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_receipts")),
    )
    op.create_index(
        "ix_unmatched_receipts_smsc_message_id", "unmatched_receipts", ["smsc_message_id"]
    )
    op.create_table(
        "mo_fragments",
        sa.Column("id", _id(), nullable=False),
        sa.Column("sender", sa.String(length=21), nullable=False),
        sa.Column("destination", sa.String(length=21), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=False),
        sa.Column("total", sa.SmallInteger(), nullable=False),
        sa.Column("seqnum", sa.SmallInteger(), nullable=False),
        sa.Column("data_coding", sa.SmallInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mo_fragments")),
        sa.UniqueConstraint(
            "sender",
            "destination",
            "reference",
            "total",
            "seqnum",
            name=op.f("uq_mo_fragments_sender_destination_reference_total_seqnum"),
        ),
    )
    op.create_index("ix_mo_fragments_received_at", "mo_fragments", ["received_at"])


def downgrade() -> None:
    op.drop_table("mo_fragments")
    op.drop_table("unmatched_receipts")
    op.drop_index("ix_message_parts_pending", table_name="message_parts")
    op.drop_table("message_parts")

"""Ported numbers (a subscriber moved between shards) and the 'moving' subscriber status.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vasguard.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ported_numbers",
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("moved_at", vasguard.store.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["province"], ["provinces.code"], name=op.f("fk_ported_numbers_province_provinces")
        ),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_ported_numbers")),
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subscribers_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_subscribers_status"), "status IN ('active', 'suspended', 'closed', 'moving')"
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subscribers_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_subscribers_status"), "status IN ('active', 'suspended', 'closed')"
        )
    op.drop_table("ported_numbers")

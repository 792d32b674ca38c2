"""The partner feed's national counter and high-water mark (a sharded deployment).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_feed_counter",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("published", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_partner_feed_counter_one_row")),
        sa.CheckConstraint(
            "published <= reserved", name=op.f("ck_partner_feed_counter_published_reserved")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_feed_counter")),
    )


def downgrade() -> None:
    op.drop_table("partner_feed_counter")

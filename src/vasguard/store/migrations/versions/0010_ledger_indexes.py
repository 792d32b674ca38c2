"""Indexes for the ledger's and the complaints' lists.

A page is ``WHERE filter AND id > cursor ORDER BY id LIMIT n``: a period's charges (the
bill run writes them in subscriber order, not among the other periods' ids), the open
complaints, and one partner's complaints each become one index range instead of a walk
of every older row.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_charges_period_id", "charges", ["period", "id"]),
    ("ix_complaints_status_id", "complaints", ["status", "id"]),
    ("ix_complaints_provider_id_id", "complaints", ["provider_id", "id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in _INDEXES:
        op.drop_index(name, table_name=table)

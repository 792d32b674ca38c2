"""Indexes for the API's lists and the subscriber timeline.

A page of a list is ``WHERE filter AND id > cursor ORDER BY id LIMIT n``: with the filter
column leading and the id after it, a page is one index range however rare the filter
value (a closed number, one service among 200,000). The timeline reads a subscriber's
refunds by subscriber, which nothing indexed before.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_subscribers_province_id", "subscribers", ["province", "id"]),
    ("ix_subscribers_status_id", "subscribers", ["status", "id"]),
    ("ix_subscriptions_service_id", "subscriptions", ["service_id", "id"]),
    ("ix_refunds_subscriber", "refunds", ["subscriber_id", "created_at"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in _INDEXES:
        op.drop_index(name, table_name=table)

"""Stored 0000 listings and their numbered items; only a subscriber's latest one counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from vasguard.domain.listing import Listed, Listing
from vasguard.store.tables import listing_items, listings

_ADD = listings.insert().returning(listings.c.id)
_ADD_ITEMS = listing_items.insert()
_NEWEST = (
    select(listings.c.id)
    .where(listings.c.subscriber_id == bindparam("subscriber_id"))
    .order_by(listings.c.created_at.desc(), listings.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
# The newest listing with its items, in one round trip (a listing with none has one row).
_LATEST = (
    select(
        listings.c.id,
        listings.c.expires_at,
        listings.c.cancel_all_code,
        listings.c.cancel_all_until,
        listing_items.c.number,
        listing_items.c.subscription_id,
    )
    .outerjoin(listing_items, listing_items.c.listing_id == listings.c.id)
    .where(listings.c.id == _NEWEST)
)


class ListingRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        subscriber_id: int,
        province: str,
        mo_id: int,
        at: datetime,
        expires_at: datetime,
        items: Sequence[Listed],
    ) -> int:
        listing_id: int = self._conn.execute(
            _ADD,
            {
                "subscriber_id": subscriber_id,
                "province": province,
                "mo_id": mo_id,
                "created_at": at,
                "expires_at": expires_at,
            },
        ).scalar_one()
        if items:
            self._conn.execute(
                _ADD_ITEMS,
                [
                    {
                        "listing_id": listing_id,
                        "number": item.number,
                        "subscription_id": item.holding.subscription_id,
                        "subscriber_id": subscriber_id,
                        "province": province,
                    }
                    for item in items
                ],
            )
        return listing_id

    def latest(self, subscriber_id: int) -> Listing | None:
        """The subscriber's newest listing: a new 0000 replaces every earlier numbering."""
        rows = self._conn.execute(_LATEST, {"subscriber_id": subscriber_id}).all()
        if not rows:
            return None
        head = rows[0]
        return Listing(
            id=head.id,
            expires_at=head.expires_at,
            items={r.number: r.subscription_id for r in rows if r.number is not None},
            cancel_all_code=head.cancel_all_code,
            cancel_all_until=head.cancel_all_until,
        )

    def ask_cancel_all(self, listing_id: int, code: str, until: datetime) -> None:
        self._conn.execute(
            update(listings)
            .where(listings.c.id == listing_id)
            .values(cancel_all_code=code, cancel_all_until=until)
        )

    def close_cancel_all(self, listing_id: int) -> None:
        self._conn.execute(
            update(listings)
            .where(listings.c.id == listing_id)
            .values(cancel_all_code=None, cancel_all_until=None)
        )

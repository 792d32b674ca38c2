"""Stored 0000 listings and their numbered items; only a subscriber's latest one counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from vasguard.domain.listing import CurrentListing, Listing, ListingEntry
from vasguard.store.appends import Appends
from vasguard.store.prepared import Prepared
from vasguard.store.subscriptions import NAMED_COLUMNS, named_subscription
from vasguard.store.tables import listing_items, listings, providers, services, subscriptions

_NEWEST = (
    select(listings.c.id)
    .where(listings.c.subscriber_id == bindparam("subscriber_id"))
    .order_by(listings.c.created_at.desc(), listings.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_NUMBER = 4  # the item's number in a row of _LATEST
_HELD_AT = 5  # where NAMED_COLUMNS start in a row of _LATEST
# The newest listing with its items as they stand now, in one round trip (a listing with
# no items has one row, with NULL items); every MO after a 0000 reads it (store.prepared).
_LATEST = Prepared(
    select(
        listings.c.id,
        listings.c.expires_at,
        listings.c.cancel_all_code,
        listings.c.cancel_all_until,
        listing_items.c.number,
        *NAMED_COLUMNS,
    )
    .select_from(listings)
    .outerjoin(listing_items, listing_items.c.listing_id == listings.c.id)
    .outerjoin(
        subscriptions,
        (subscriptions.c.id == listing_items.c.subscription_id)
        & (subscriptions.c.subscriber_id == listings.c.subscriber_id),
    )
    .outerjoin(services, services.c.id == subscriptions.c.service_id)
    .outerjoin(providers, providers.c.id == services.c.provider_id)
    .where(listings.c.id == _NEWEST)
    .order_by(listing_items.c.number)
)


class ListingRepository:
    def __init__(self, conn: Connection, appends: Appends) -> None:
        self._conn = conn
        self._appends = appends

    def add(
        self,
        *,
        subscriber_id: int,
        province: str,
        mo_id: int,
        at: datetime,
        expires_at: datetime,
        items: Sequence[ListingEntry],
    ) -> None:
        """Store a listing, written at commit; its id is the id of the MO that asked for it."""
        self._appends.add(
            listings,
            [
                {
                    "id": mo_id,
                    "subscriber_id": subscriber_id,
                    "province": province,
                    "mo_id": mo_id,
                    "created_at": at,
                    "expires_at": expires_at,
                }
            ],
        )
        self._appends.add(
            listing_items,
            [
                {
                    "listing_id": mo_id,
                    "number": item.number,
                    "subscription_id": item.candidate.subscription_id,
                    "subscriber_id": subscriber_id,
                    "province": province,
                }
                for item in items
            ],
        )

    def latest(self, subscriber_id: int) -> CurrentListing | None:
        """The subscriber's newest listing: a new 0000 replaces every earlier numbering."""
        rows = _LATEST.rows(self._conn, {"subscriber_id": subscriber_id})
        if not rows:
            return None
        listing_id, expires_at, cancel_all_code, cancel_all_until = rows[0][:_NUMBER]
        items = [named_subscription(r[_HELD_AT:]) for r in rows if r[_HELD_AT] is not None]
        numbers = [r[_NUMBER] for r in rows if r[_HELD_AT] is not None]
        return CurrentListing(
            Listing(
                id=listing_id,
                expires_at=expires_at,
                items={n: h.subscription_id for n, h in zip(numbers, items, strict=True)},
                cancel_all_code=cancel_all_code,
                cancel_all_until=cancel_all_until,
            ),
            {h.subscription_id: h for h in items},
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

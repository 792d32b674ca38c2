"""Cursor pagination for every list: ``?limit=&cursor=`` in, ``items`` and ``next_cursor`` out.

A cursor is opaque to the caller: the sort key of the last item returned, base64url'd.
Keyset pagination, not offsets: a page costs the same at the millionth row as at the
first, and rows added meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from vasguard.channels.http.fields import BIGGEST_ID
from vasguard.domain.refusals import InvalidInput

Item = TypeVar("Item")

MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=64, description="`next_cursor` of the previous page; omit for the first"),
]


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id to continue after (0 for the first page); a cursor we did not make: 422."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        after = int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(f"cursor {cursor[:64]!r} is not one this API gave") from None
    if not 0 <= after <= BIGGEST_ID or text != str(after):
        raise InvalidInput(f"cursor {cursor[:64]!r} is not one this API gave")
    return after


def page_of(items: list[Item], limit: int, key: Callable[[Item], int]) -> Page[Item]:
    """``items`` fetched with ``limit + 1`` in key order: the extra one only tells there is
    a next page, which continues after the key of the last item shown."""
    if len(items) > limit:
        shown = items[:limit]
        return Page(items=shown, next_cursor=encode_cursor(key(shown[-1])))
    return Page(items=items, next_cursor=None)

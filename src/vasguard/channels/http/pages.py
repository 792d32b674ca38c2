"""Cursor pagination for every list: ``?limit=&cursor=`` in, ``items`` and ``next_cursor`` out.

A cursor is opaque to the caller: the sort key of the last item returned. Its form is
in the schema (``CURSOR_PATTERN``) and every text of that form is a place to continue
from, so no cursor the schema lets through is refused (a fuzzer holds the API to that).
Keyset pagination, not offsets: a page costs the same at the millionth row as at the
first, and rows added meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Annotated, Generic, Protocol, TypeVar

from fastapi import Query
from pydantic import BaseModel

from vasguard.domain.refusals import InvalidInput

Item = TypeVar("Item")
Record = TypeVar("Record")
Model = TypeVar("Model", bound=BaseModel)


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


Identified = TypeVar("Identified", bound=_Identified)

MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
CURSOR_PATTERN = r"^(0|[1-9][0-9]{0,15})$"
"""The id to continue after: up to 16 digits, far inside a ``BigInteger``."""

Cursor = Annotated[
    str | None,
    Query(
        json_schema_extra={"pattern": CURSOR_PATTERN},  # decode_cursor refuses the rest
        description="`next_cursor` of the previous page; omit for the first",
    ),
]


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return str(last_id)


def decode_cursor(cursor: str | None) -> int:
    """The id to continue after (0 for the first page); a cursor we did not make: 422."""
    if cursor is None:
        return 0
    if not re.fullmatch(CURSOR_PATTERN, cursor):  # a caller that is not the API route
        raise InvalidInput(f"cursor {cursor[:64]!r} is not one this API gave")
    return int(cursor)


def page_of(items: list[Item], limit: int, key: Callable[[Item], int]) -> Page[Item]:
    """``items`` fetched with ``limit + 1`` in key order: the extra one only tells there is
    a next page, which continues after the key of the last item shown."""
    if len(items) > limit:
        shown = items[:limit]
        return Page(items=shown, next_cursor=encode_cursor(key(shown[-1])))
    return Page(items=items, next_cursor=None)


def page_by_id(
    found: Iterable[Record], limit: int, show: Callable[[Record], Identified]
) -> Page[Identified]:
    """Records fetched ``limit + 1`` in id order, each shown as ``show`` makes it: the
    list routes' page, continuing after the id of the last item shown."""
    return page_of([show(record) for record in found], limit, key=lambda item: item.id)


def from_attributes(model: type[Model]) -> Callable[[object], Model]:
    """``model`` read off a domain record of the same fields, as a ``show`` for
    ``page_by_id``."""
    return lambda record: model.model_validate(record, from_attributes=True)

"""Field types for every request: what the stores can keep, refused before a route runs.

PostgreSQL refuses NUL in text and an ``Integer`` column refuses 2**31; left to the
database, either is a 500 after the work has begun. These types say so in the request
schema instead, so bad input is a 422 problem that changed nothing, on both stores, and
the OpenAPI shows the same bounds to callers and to the fuzzer.

Use them in body models and in path and query parameters alike, with the length where
it is used::

    code: Annotated[Line, Path(max_length=21)]
    note: Annotated[Prose, Field(max_length=200)] | None = None
    charge_id: DbId

Two text types, by what the text is:

- ``Line``: codes, references, numbers, ids, tickets — no C0 control character and no
  DEL at all: none belongs in an identifier, and one that got in would never match.
- ``Prose``: free text typed by staff (a resolution note) — tab, newline and CR allowed,
  every other C0 control and DEL refused.

An MO's text is neither, and is not refused for a NUL: it is what a subscriber sent, so
it is kept as received, with a NUL stored as U+FFFD (``NewMo.clean``), exactly as an MO
over SMPP is. Refusing it would lose the MO.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

BIGGEST_ID = 2**53 - 1
"""Ids are ``BigInteger`` on PostgreSQL (SQLite's integers are 64-bit too), but JSON's
numbers are read as doubles by many clients (JavaScript, and the fuzzer's own schema
check), which cannot tell 2**63 - 1 from 2**63: the API keeps to I-JSON's (RFC 7493)
exact integers, far above any id the store will hand out."""

BIGGEST_FEN = 2**31 - 1
"""Amount columns are ``Integer``: 2**31 - 1 fen is 21 million yuan, far above any price."""

LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
PROSE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

_SEP = "[ .()（）-]*"
MSISDN_PATTERN = (
    rf"^{_SEP}(?:[+＋]{_SEP}[8８]{_SEP}[6６]{_SEP}"
    rf"|[0０]{_SEP}[0０]{_SEP}[8８]{_SEP}[6６]{_SEP}|[8８]{_SEP}[6６]{_SEP})?"
    rf"[1１]{_SEP}[3-9３-９](?:{_SEP}[0-9０-９]){{9}}{_SEP}$"
)
"""A mobile number in the forms ``domain.msisdn.normalise`` reads: 11 digits from 13-19,
``+86``, ``0086`` or ``86`` in front or not, ASCII or full-width digits, spaces, dashes,
dots or brackets between them. Every text it matches, ``normalise`` accepts (a test holds
this), so a number the schema lets through is never refused as malformed."""

PERIOD_PATTERN = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
"""A billing period as ``domain.periods.Period.parse`` reads it, 1970-01 to 2999-12; the
schema shows it, ``Period.parse`` refuses the rest with its own message."""

Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN)]
Prose = Annotated[str, StringConstraints(pattern=PROSE_PATTERN)]
_MSISDN = re.compile(MSISDN_PATTERN)


def _a_number(text: str) -> str:
    if not _MSISDN.fullmatch(text):
        raise PydanticCustomError(
            "invalid_msisdn",
            "not a mobile number: expected 11 digits starting 13-19, "
            "optionally with +86 or 0086 in front",
        )
    return text


Msisdn = Annotated[
    str,
    StringConstraints(max_length=32),
    AfterValidator(_a_number),
    WithJsonSchema({"type": "string", "maxLength": 32, "pattern": MSISDN_PATTERN}),
]
"""A mobile number, checked against ``MSISDN_PATTERN`` (the pattern the OpenAPI shows)."""


def known_query_only(request: Request) -> None:
    """An API query parameter the route does not declare is refused with a 422, as an
    unknown body field is (``extra="forbid"``): a misspelt ``limt`` must not quietly mean
    the default. An app-wide dependency; pages outside ``/api/`` are left alone."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.url.path.startswith("/api/"):
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "not a parameter here"}
                for name in unknown
            ]
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


DbId = Annotated[int, Field(ge=1, le=BIGGEST_ID)]
Fen = Annotated[int, Field(ge=0, le=BIGGEST_FEN)]
"""A price or an amount: a positive one where zero means nothing is the service's rule."""

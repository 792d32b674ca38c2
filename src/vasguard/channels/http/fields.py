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

from typing import Annotated

from pydantic import Field, StringConstraints

BIGGEST_ID = 2**63 - 1
"""Ids are ``BigInteger`` on PostgreSQL; SQLite's integers are 64-bit too."""

BIGGEST_FEN = 2**31 - 1
"""Amount columns are ``Integer``: 2**31 - 1 fen is 21 million yuan, far above any price."""

LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
PROSE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN)]
Prose = Annotated[str, StringConstraints(pattern=PROSE_PATTERN)]

DbId = Annotated[int, Field(ge=1, le=BIGGEST_ID)]
Fen = Annotated[int, Field(ge=0, le=BIGGEST_FEN)]
"""A price or an amount: a positive one where zero means nothing is the service's rule."""

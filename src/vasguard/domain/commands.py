"""The MO command parser: customer text in, one typed command out, never an exception.

The parser knows nothing about the subscriber's state (open listings, reminders, pending
orders); where the meaning depends on that state it says so in the command type
(``CancelItemOrService``) and the service layer decides. When in doubt it answers
``NotUnderstood``: a reply that could mean more than one thing must change nothing.

Rules the spec leaves open, decided here:

* Listing items are numbers of 1 to 3 digits, 1 to 999, so a listing longer than 99
  items can still be answered by number. Digits are counted, not the value: a text of 4
  or more digits (``1234``, ``0001``) is not an item, so nothing near ``0000`` cancels,
  and an all-zero text other than ``0000``/``00000`` is never a cancellation.
* ``TD`` + a number that can be an item (``TD12``, ``TD100``) may also be a service code,
  so it is ``CancelItemOrService`` and the service layer decides. The spec says "at most
  two digits"; three keep items 100-999 within reach of ``TD`` too. ``TD`` + a number
  that cannot be an item (``TD000``, ``TD1234``) is a service code.
* A range (``2-4``, ``2－4``, ``2~4``, ``2—4``) expands to its items; a reversed range or
  item ``0`` is not understood.
* A service code is an ASCII alphanumeric token of 3 to 21 characters containing at least
  one digit (``12345678``, ``SP80012345``); it is returned upper-cased. Requiring a digit
  keeps typos of keywords (``TDQZ``) from being read as codes.
* ``TS`` complaints: a service code is taken either glued to ``TS`` (``TS12345678 信号差``)
  or as the first token after it (``TS 12345678 信号差``); anything else is complaint text
  (``TS 5G信号差``). Letters glued to ``TS`` that are not a code (``TSUNAMI``) are not a
  complaint.
* Control, format (zero-width) and separator characters count as whitespace, so a hidden
  character can split tokens but never join them.
* Only full-width forms are folded (U+FF01-U+FF5E to ASCII, U+3000 to a space), not every
  compatibility character: read through NFKC, ``1³`` would be item 13 and ``①``, ``𝟏``,
  ``¹`` item 1, numbers the customer never wrote. Other digits (superscript, circled,
  mathematical, other scripts') are no item, code or keyword, and glued to ``TS`` they
  make it no complaint, like letters (``TS¹²³⁴⁵⁶⁷⁸``).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

CODE_LENGTH = 4

REASON_EMPTY = "empty message"
REASON_UNKNOWN = "unknown command"
REASON_ITEM_ZERO = "item numbers start at 1"
REASON_REVERSED_RANGE = "reversed range"
REASON_BAD_CODE = "confirmation code must be 4 digits"
REASON_BAD_SERVICE_CODE = "not a service code"
REASON_ITEM_TOO_LONG = "an item number has 1 to 3 digits"

ITEM_DIGITS = 3

_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_FULL_WIDTH = {0x3000: " "} | {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)
_SPACE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_LIST_SEPARATORS = re.compile(r"[,、､\s]+")  # ､: the half-width 顿号
_DASHES = re.compile(r"\s*[-~–—]\s*")
_ITEM_TOKEN = re.compile(rf"([0-9]{{1,{ITEM_DIGITS}}})(?:-([0-9]{{1,{ITEM_DIGITS}}}))?")
_ITEM_TEXT = re.compile(r"[0-9]+(?:-[0-9]+)?(?: [0-9]+(?:-[0-9]+)?)*")
_SERVICE_CODE = re.compile(r"(?=[A-Z0-9]*[0-9])[A-Z0-9]{3,21}")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class ListSubscriptions:
    """``0000``: send the numbered listing of monthly subscriptions."""


@dataclass(frozen=True, slots=True)
class CancelItems:
    """Cancel these items (sorted, unique, 1..999) of the latest listing."""

    items: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every item of the latest listing, after a confirmation round."""


@dataclass(frozen=True, slots=True)
class CancelReminded:
    """Bare ``TD``: cancel the service of the latest reminder, if exactly one is open."""


@dataclass(frozen=True, slots=True)
class CancelService:
    """``TD<code>``: cancel the subscription to this service code."""

    service_code: str


@dataclass(frozen=True, slots=True)
class CancelItemOrService:
    """``TD`` + a number that can be an item: an item of an open listing, or a service code.

    Only the service layer knows whether a listing is open and whether the code exists.
    """

    item: int
    service_code: str


@dataclass(frozen=True, slots=True)
class Confirm:
    """Confirm a pending request; ``code`` picks one when several are open."""

    code: str | None = None


@dataclass(frozen=True, slots=True)
class Decline:
    """Decline a pending request; ``code`` picks one when several are open."""

    code: str | None = None


@dataclass(frozen=True, slots=True)
class Complain:
    """``TS``: complain about the given service, or the latest reminded one."""

    service_code: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Help:
    """Send the list of commands."""


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """Anything else: the (normalised) text and why it was not understood."""

    text: str
    reason: str


Command = (
    ListSubscriptions
    | CancelItems
    | CancelAll
    | CancelReminded
    | CancelService
    | CancelItemOrService
    | Confirm
    | Decline
    | Complain
    | Help
    | NotUnderstood
)


def _spaces_to_blank(text: str) -> str:
    """Turn every control, format and separator character into a plain space."""
    return "".join(" " if unicodedata.category(ch) in _SPACE_CATEGORIES else ch for ch in text)


def _normalise(text: str) -> str:
    """Full-width forms to ASCII, hidden characters as spaces, trimmed."""
    return _spaces_to_blank(text.translate(_FULL_WIDTH)).strip()


def canonical(text: str) -> str:
    """The comparison form of a text or keyword: normalised, ASCII upper-case,
    commas / 顿号 / runs of whitespace as one space, dashes without spaces around them."""
    key = _LIST_SEPARATORS.sub(" ", _normalise(text).translate(_ASCII_UPPER)).strip()
    return _DASHES.sub("-", key)


def _canonical_set(words: frozenset[str]) -> frozenset[str]:
    return frozenset(c for c in (canonical(w) for w in words) if c)


@dataclass(frozen=True, slots=True)
class Keywords:
    """The configurable keyword sets; stored in canonical form and checked for overlaps.

    ``TD``-with-argument, ``TS`` and item numbers are grammar, not configuration.
    """

    list: frozenset[str] = frozenset({"0000", "00000"})
    cancel_all: frozenset[str] = frozenset({"QX", "全部", "TDQX"})
    cancel_reminded: frozenset[str] = frozenset({"TD"})
    help: frozenset[str] = frozenset({"BZ", "帮助", "HELP", "?"})
    confirm: frozenset[str] = frozenset({"是", "Y", "YES"})
    decline: frozenset[str] = frozenset({"否", "N", "NO"})

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for name in ("list", "cancel_all", "cancel_reminded", "help", "confirm", "decline"):
            words = _canonical_set(getattr(self, name))
            if overlap := seen & words:
                raise ValueError(f"keywords used for two commands: {sorted(overlap)}")
            seen |= words
            object.__setattr__(self, name, words)

    def extended(
        self,
        *,
        list: frozenset[str] = frozenset(),
        cancel_all: frozenset[str] = frozenset(),
        cancel_reminded: frozenset[str] = frozenset(),
        help: frozenset[str] = frozenset(),
        confirm: frozenset[str] = frozenset(),
        decline: frozenset[str] = frozenset(),
    ) -> Keywords:
        """A copy with words added, e.g. the ``STOP``/``HELP`` words some regulators require."""
        return Keywords(
            list=self.list | list,
            cancel_all=self.cancel_all | cancel_all,
            cancel_reminded=self.cancel_reminded | cancel_reminded,
            help=self.help | help,
            confirm=self.confirm | confirm,
            decline=self.decline | decline,
        )


DEFAULT_KEYWORDS = Keywords()
ENGLISH_REGIME = DEFAULT_KEYWORDS.extended(
    list=frozenset({"LIST"}),
    cancel_all=frozenset({"STOP ALL"}),
    cancel_reminded=frozenset({"STOP"}),
    help=frozenset({"HELP"}),
)


def parse(text: str, keywords: Keywords = DEFAULT_KEYWORDS) -> Command:
    """Parse one MO text. Total: every input gives a ``Command``, never an exception."""
    normal = _normalise(text)
    key = canonical(normal)
    if not key:
        return NotUnderstood(normal, REASON_EMPTY)
    if key in keywords.list:
        return ListSubscriptions()
    if key in keywords.cancel_all:
        return CancelAll()
    if key in keywords.cancel_reminded:
        return CancelReminded()
    if key in keywords.help:
        return Help()
    answer = _parse_answer(normal, key, keywords.confirm, Confirm) or _parse_answer(
        normal, key, keywords.decline, Decline
    )
    if answer is not None:
        return answer
    complaint = _parse_complaint(normal.lstrip(" ,、"))
    if complaint is not None:
        return complaint
    if key.startswith("TD"):
        return _parse_td(normal, key[2:].lstrip())
    if _ITEM_TEXT.fullmatch(key):
        items = _parse_items(key)
        return CancelItems(items) if isinstance(items, tuple) else NotUnderstood(normal, items)
    return NotUnderstood(normal, REASON_UNKNOWN)


def _parse_answer(
    normal: str,
    key: str,
    words: frozenset[str],
    make: Callable[[str | None], Confirm | Decline],
) -> Command | None:
    """A keyword (longest first) optionally followed by a code; ``None`` if no keyword
    matches with nothing or digits after it."""
    for word in sorted(words, key=len, reverse=True):
        if not key.startswith(word):
            continue
        rest = key[len(word) :].lstrip()
        if not rest:
            return make(None)
        if _DIGITS.fullmatch(rest):
            if len(rest) == CODE_LENGTH:
                return make(rest)
            return NotUnderstood(normal, REASON_BAD_CODE)
    return None


def _parse_complaint(normal: str) -> Complain | None:
    """``TS``, ``TS <text>``, ``TS<code> <text>``, ``TS <code> <text>``; ``None`` if the
    text does not start with ``TS`` or glues a non-code to it."""
    if normal[:2].translate(_ASCII_UPPER) != "TS":
        return None
    rest = normal[2:]
    glued = _glued_length(rest)
    if glued:
        code = rest[:glued].translate(_ASCII_UPPER)
        if not _SERVICE_CODE.fullmatch(code):
            return None
        return Complain(code, _complaint_text(rest[glued:]))
    rest = _complaint_text(rest)
    first, _, tail = rest.partition(" ")
    code = first.translate(_ASCII_UPPER)
    if _SERVICE_CODE.fullmatch(code):
        return Complain(code, _complaint_text(tail))
    return Complain(None, rest)


def _glued_length(text: str) -> int:
    """Length of the leading run of ASCII letters and digits and of any number characters,
    so ``TS1²`` glues ``1²`` (no code), not ``1`` followed by complaint text."""
    for length, ch in enumerate(text):
        if ch not in _ASCII_ALNUM and not unicodedata.category(ch).startswith("N"):
            return length
    return len(text)


def _complaint_text(text: str) -> str:
    return text.strip(" ,、")


def _parse_td(normal: str, rest: str) -> Command:
    """``TD`` followed by items, a number that can be an item, or a service code."""
    if _DIGITS.fullmatch(rest) and len(rest) <= ITEM_DIGITS and int(rest):
        return CancelItemOrService(int(rest), rest)
    if _SERVICE_CODE.fullmatch(rest):
        return CancelService(rest)
    if _ITEM_TEXT.fullmatch(rest):
        items = _parse_items(rest)
        return CancelItems(items) if isinstance(items, tuple) else NotUnderstood(normal, items)
    return NotUnderstood(normal, REASON_BAD_SERVICE_CODE if rest else REASON_UNKNOWN)


def _parse_items(key: str) -> tuple[int, ...] | str:
    """Space-separated item numbers and ranges → sorted unique items, or a reason."""
    items: set[int] = set()
    for token in key.split(" "):
        match = _ITEM_TOKEN.fullmatch(token)
        if match is None:
            return REASON_ITEM_TOO_LONG
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if first == 0:
            return REASON_ITEM_ZERO
        if last < first:
            return REASON_REVERSED_RANGE
        items.update(range(first, last + 1))
    return tuple(sorted(items))

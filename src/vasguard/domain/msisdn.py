"""Subscriber numbers: one normal form (11 digits, ``1`` + 10) and the province it belongs to."""

from __future__ import annotations

import bisect
import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from vasguard.domain.refusals import InvalidInput

_SEPARATORS = re.compile(r"[\s\-()（）.]")
_NATIONAL = re.compile(r"1[3-9]\d{9}")


class InvalidMsisdn(InvalidInput):
    """The text is not a mainland mobile number in any accepted form."""

    code = "invalid_msisdn"


def normalise(raw: str) -> str:
    """Return the 11-digit national form of a mobile number.

    Accepts ``13800138000``, ``+8613800138000``, ``008613800138000``, ``8613800138000``,
    full-width digits, and spaces, dashes, dots or brackets between digits.
    """
    if not isinstance(raw, str):
        raise InvalidMsisdn(f"a number must be text, got {type(raw).__name__}")
    text = unicodedata.normalize("NFKC", raw).strip()
    text = _SEPARATORS.sub("", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if not text.isascii() or not _NATIONAL.fullmatch(text):
        raise InvalidMsisdn(
            f"{raw!r} is not a mobile number: expected 11 digits starting 13-19, "
            "optionally with +86 or 0086 in front"
        )
    return text


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    name_en: str
    timezone: str
    weight: int


@dataclass(frozen=True, slots=True)
class SegmentRange:
    """A run of 7-digit number segments (号段) that belong to one province."""

    first: str
    last: str
    province: str


class UnknownSegment(LookupError):
    """The number is well formed but its segment is not one this operator serves."""


class SegmentTable:
    """Finds a number's home province from its 7-digit segment, by binary search."""

    def __init__(self, ranges: Iterable[SegmentRange]) -> None:
        self._ranges = sorted(ranges, key=lambda r: r.first)
        self._starts = [r.first for r in self._ranges]
        for before, after in zip(self._ranges, self._ranges[1:], strict=False):
            if after.first <= before.last:
                raise ValueError(f"segment ranges overlap: {before} and {after}")

    def province_of(self, msisdn: str) -> str:
        segment = msisdn[:7]
        i = bisect.bisect_right(self._starts, segment) - 1
        if i >= 0 and segment <= self._ranges[i].last:
            return self._ranges[i].province
        raise UnknownSegment(f"number segment {segment} is not served by this operator")

    @property
    def ranges(self) -> list[SegmentRange]:
        return list(self._ranges)


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("vasguard.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def load_provinces() -> list[Province]:
    """The 31 provincial companies, shipped as data (``vasguard/data/provinces.csv``)."""
    return [
        Province(r["code"], r["name"], r["name_en"], r["timezone"], int(r["weight"]))
        for r in _data_rows("provinces.csv")
    ]


def load_segments() -> SegmentTable:
    """The number-segment table shipped as data (``vasguard/data/segments.csv``)."""
    return SegmentTable(
        SegmentRange(r["first"], r["last"], r["province"]) for r in _data_rows("segments.csv")
    )

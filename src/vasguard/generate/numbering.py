"""Unique subscriber numbers without remembering the ones already handed out.

The numbers the segment table serves form one space of ``segments × 10,000`` numbers; the
n-th subscriber gets the number at position ``permute(n)``, where ``permute`` is a keyed
Feistel permutation of 32-bit integers restricted to that space by cycle walking. A
permutation never repeats, so uniqueness costs no memory, and because every segment holds
the same 10,000 numbers, a uniform position lands in a province in proportion to its
segments — which the segment table already sizes by province.
"""

from __future__ import annotations

import bisect
from random import Random

from vasguard.domain.msisdn import SegmentTable

_HALF_BITS = 16
_HALF_MASK = (1 << _HALF_BITS) - 1
_ROUNDS = 4
NUMBERS_PER_SEGMENT = 10_000


class NumberPlan:
    """Maps subscriber ordinals 0, 1, 2, … to distinct MSISDNs and their provinces."""

    def __init__(self, segments: SegmentTable, rng: Random) -> None:
        self._firsts: list[int] = []
        self._provinces: list[str] = []
        self._starts: list[int] = []
        size = 0
        for r in segments.ranges:
            self._starts.append(size)
            self._firsts.append(int(r.first))
            self._provinces.append(r.province)
            size += (int(r.last) - int(r.first) + 1) * NUMBERS_PER_SEGMENT
        if size > 1 << (2 * _HALF_BITS):
            raise ValueError("the segment table is larger than the permutation domain")
        self.size = size
        self._keys = [rng.getrandbits(32) for _ in range(_ROUNDS)]

    def number(self, ordinal: int) -> tuple[str, str]:
        """The ``ordinal``-th number and its province; distinct ordinals, distinct numbers."""
        if not 0 <= ordinal < self.size:
            raise ValueError(f"only {self.size} numbers exist; ordinal {ordinal} is out of range")
        position = self._permute(ordinal)
        while position >= self.size:
            position = self._permute(position)
        i = bisect.bisect_right(self._starts, position) - 1
        segment, tail = divmod(position - self._starts[i], NUMBERS_PER_SEGMENT)
        return f"{self._firsts[i] + segment:07d}{tail:04d}", self._provinces[i]

    def _permute(self, value: int) -> int:
        left, right = value >> _HALF_BITS, value & _HALF_MASK
        for key in self._keys:
            mixed = ((right ^ key) * 0x9E3779B1) & 0xFFFFFFFF
            left, right = right, left ^ ((mixed ^ (mixed >> 15)) & _HALF_MASK)
        return (left << _HALF_BITS) | right

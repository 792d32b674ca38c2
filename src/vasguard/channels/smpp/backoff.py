"""Reconnect delays: exponential from ``minimum`` to ``maximum``, with jitter.

Each delay is drawn uniformly from the upper half of the current step (never below
``minimum``), so several binds
(or several platform processes) that lost the SMSC together do not all come back in the
same instant, and an SMSC that refuses us is not hammered.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        self._minimum = minimum
        self._maximum = maximum
        self._attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        step = min(self._maximum, self._minimum * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 62)
        return self._rng.uniform(max(self._minimum, step / 2.0), step)

    def reset(self) -> None:
        """After a successful bind: the next failure starts again from ``minimum``."""
        self._attempt = 0

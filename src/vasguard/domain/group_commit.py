"""Which MOs may share one transaction when a busy link hands over several at once."""

from __future__ import annotations

from collections.abc import Sequence


def transactions(senders: Sequence[str]) -> list[list[int]]:
    """Split MOs, in arrival order, into runs that may share a transaction.

    A run never holds two MOs from one sender: what a turn does is written at commit, and
    the sender's next MO must see it (``0000`` then ``1``), so that MO starts the next
    run. Returns the MOs' positions, run by run; joined, they are ``0 … len - 1``.
    """
    runs: list[list[int]] = []
    current: list[int] = []
    seen: set[str] = set()
    for position, sender in enumerate(senders):
        if sender in seen:
            runs.append(current)
            current, seen = [], set()
        current.append(position)
        seen.add(sender)
    if current:
        runs.append(current)
    return runs

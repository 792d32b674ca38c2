"""The id an MO from an SMSC is stored under, which makes a redelivery a duplicate.

SMPP 3.4 gives an MO no message id. An SMSC that supplies one (some put it in
``receipted_message_id`` of a non-receipt deliver_sm) has it used: ``smsc:<id>``.
Otherwise the id is a digest of what the SMSC sent (source, destination, data_coding,
esm_class, user data) and of the window of time it was first seen in: the same MO
redelivered within that window (after ESME_RX_T_APPN, a drop and reconnect, or a restart
inside the same window) gets the same id, and the intake acts on it once.

What this costs, knowingly: a customer sending the very same text twice within the
window is answered once; a redelivery after a restart that crosses a window boundary is
acted on twice. The window (default 10 minutes) should cover the SMSC's redelivery
schedule.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta

DEFAULT_WINDOW = timedelta(minutes=10)


class MoIds:
    """MO ids by content within a time window; remembers the ids it gave for one window,
    so a redelivery seen just after a window boundary keeps its first id."""

    def __init__(self, window: timedelta = DEFAULT_WINDOW) -> None:
        self._window = window
        self._given: OrderedDict[str, tuple[str, datetime]] = OrderedDict()

    def id_for(
        self,
        *,
        source: str,
        destination: str,
        data_coding: int,
        esm_class: int,
        user_data: bytes,
        now: datetime,
        smsc_id: str | None = None,
    ) -> str:
        if smsc_id:
            return f"smsc:{smsc_id}"
        digest = hashlib.sha256()
        for value in (source, destination, data_coding, esm_class):
            digest.update(f"{value}\x1f".encode())
        digest.update(user_data)
        content = digest.hexdigest()[:32]
        self._forget_before(now - self._window)
        given = self._given.get(content)
        if given is not None:
            return given[0]
        bucket = int(now.timestamp() // self._window.total_seconds())
        key = f"mo:{content}:{bucket}"
        self._given[content] = (key, now)
        return key

    def _forget_before(self, cutoff: datetime) -> None:
        while self._given:
            content, (_, seen) = next(iter(self._given.items()))
            if seen >= cutoff:
                return
            del self._given[content]

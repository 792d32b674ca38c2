"""Delivery receipts: SMPP 3.4 Appendix B text and the message_state TLV, read into one
outcome per MT part.

* ``DELIVRD`` (state 2) means delivered; ``UNDELIV`` (5), ``EXPIRED`` (3), ``REJECTD``
  (8) and ``DELETED`` (4) mean failed, with the stat as the reason. ``ACCEPTD``,
  ``ENROUTE`` and ``UNKNOWN`` are not final: the part keeps waiting.
* The TLVs win over the text when both are present (the text is free-form in practice:
  SMSCs add, drop and reorder fields); the text is read field by field, case-insensitive,
  ``id`` and ``stat`` being the only fields needed.
* The instant a receipt counts from is when the platform received it, not the text's
  ``done date``: that has minute resolution in an unstated time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from vasguard.domain.messages import Receipt

DELIVERED = "DELIVRD"
FAILED_STATS = frozenset({"UNDELIV", "EXPIRED", "REJECTD", "DELETED"})
PENDING_STATS = frozenset({"ACCEPTD", "ENROUTE", "UNKNOWN"})
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_FIELD = re.compile(r"(id|stat|err):\s*(\S+)", re.IGNORECASE)


class UnreadableReceipt(ValueError):
    """A receipt with no message id or no status: nothing can be matched or applied."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a receipt says about one MT part: its SMSC id and the final or interim stat."""

    smsc_message_id: str
    stat: str
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.stat == DELIVERED or self.stat in FAILED_STATS

    @property
    def delivered(self) -> bool:
        return self.stat == DELIVERED


def read_report(
    text: str, *, receipted_message_id: str | None = None, message_state: int | None = None
) -> DeliveryReport:
    """The report in a receipt's short_message text and TLVs; ``UnreadableReceipt`` when
    neither names the message or its state."""
    fields = {name.lower(): value for name, value in _FIELD.findall(text)}
    smsc_id = receipted_message_id or fields.get("id")
    stat = MESSAGE_STATES.get(message_state) if message_state is not None else None
    stat = stat or fields.get("stat", "").upper() or None
    if not smsc_id or not stat:
        raise UnreadableReceipt(f"receipt without a message id or stat: {text[:80]!r}")
    return DeliveryReport(smsc_id, stat, fields.get("err"))


def as_receipt(report: DeliveryReport, at: datetime) -> Receipt | None:
    """The outcome to apply, or None while the report is not final."""
    if not report.final:
        return None
    return Receipt(report.smsc_message_id, report.delivered, at, report.stat)

"""SMPP command_status values: the ones this ESME acts on, and a name for any other.

Statuses stay plain integers on the wire and in errors (an SMSC may answer with a vendor
code 0x400..0x4FF); ``status_name`` gives the spec's name for logs, so an operator reads
``ESME_RINVPASWD`` and not ``14``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from smpp.pdu import constants as _constants

_STATUS_TABLE: dict[int, Any] = _constants.command_status_value_map


class Status(IntEnum):
    """The statuses the session sends or decides on; a handler answers a deliver_sm with
    ESME_ROK, ESME_RX_T_APPN (redeliver later) or ESME_RX_P_APPN (never redeliver)."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RSYSERR = 0x08
    ESME_RINVPASWD = 0x0E
    ESME_RMSGQFUL = 0x14
    ESME_RTHROTTLED = 0x58
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65


RETRYABLE_SUBMIT = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL})
"""A submit refused with one of these may be sent again later: the SMSC is busy, not
saying the message is wrong."""


def status_name(status: int) -> str:
    """The spec's name (``ESME_RTHROTTLED``), or a hex label for a vendor or reserved code."""
    entry = _STATUS_TABLE.get(status) if status >= 0 else None
    if entry is None:
        return f"0x{status:08X}"
    return str(entry["name"])


def describe(status: int) -> str:
    """Name and description, for one log line: ``ESME_RINVPASWD (Invalid Password)``."""
    entry = _STATUS_TABLE.get(status) if status >= 0 else None
    if entry is None:
        return f"0x{status:08X} (vendor-specific or reserved)"
    return f"{entry['name']} ({entry['description']})"

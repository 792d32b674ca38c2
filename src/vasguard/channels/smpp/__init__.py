"""SMPP 3.4 ESME: the platform's link to an operator's SMSC.

``EsmeSession`` is one bind_transceiver that reconnects by itself; ``BindPool`` runs
several. PDUs are encoded by the ``smpp.pdu3`` codec behind ``codec``; the session
(sequence numbers, window, rate, timers, enquire_link, deliver_sm acknowledged only after
the handler returned) is ours, in ``session`` and ``link``.
"""

from vasguard.channels.smpp.config import SmppConfig
from vasguard.channels.smpp.errors import (
    BindRefused,
    ConnectionLost,
    InvalidMessage,
    NotBound,
    OutcomeUnknown,
    ResponseTimeout,
    SmppError,
    SubmitRefused,
)
from vasguard.channels.smpp.link import DeliverHandler
from vasguard.channels.smpp.pdus import Address, DeliverSm, Sar, ShortMessage
from vasguard.channels.smpp.pool import BindPool
from vasguard.channels.smpp.session import EsmeSession
from vasguard.channels.smpp.status import Status

__all__ = [
    "Address",
    "BindPool",
    "BindRefused",
    "ConnectionLost",
    "DeliverHandler",
    "DeliverSm",
    "EsmeSession",
    "InvalidMessage",
    "NotBound",
    "OutcomeUnknown",
    "ResponseTimeout",
    "Sar",
    "ShortMessage",
    "SmppConfig",
    "SmppError",
    "Status",
    "SubmitRefused",
]

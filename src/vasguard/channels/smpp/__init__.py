"""SMPP 3.4 ESME: the platform's link to an operator's SMSC.

``EsmeSession`` is one bind_transceiver that reconnects by itself; ``BindPool`` runs
several. PDUs are encoded by the ``smpp.pdu3`` codec behind ``codec``; the session
(sequence numbers, window, rate, timers, enquire_link, deliver_sm acknowledged only after
the handler returned) is ours, in ``session`` and ``link``.

Use::

    async def on_deliver(batch: Sequence[DeliverSm]) -> list[int]:
        ...  # commit the MOs / receipts of the batch in one transaction
        return [Status.ESME_ROK] * len(batch)  # or ESME_RX_T_APPN: "redeliver later"

    async with BindPool(SmppConfig(host=..., port=..., system_id=..., password=...,
                                   binds=2, window=20, submit_rate=100.0), on_deliver) as pool:
        await pool.wait_bound(timeout=10)
        smsc_id = await pool.submit(ShortMessage(source=Address("1234", 0, 1),
                                                 destination=Address("989121234567"),
                                                 short_message=..., data_coding=...))

``text.encode_text`` gives ``short_message`` / ``data_coding`` / ``esm_class`` for a
text; ``errors`` says what each failure means for the caller.

The platform's side: ``engine.SmppEngine`` (an ``SmsEngine`` for ``vasguard serve``) runs a
pool with ``deliveries.Deliveries`` as its handler (``mo`` reads each deliver_sm) and the
outbox sender (``channels.sms.sender``) on top of it.
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

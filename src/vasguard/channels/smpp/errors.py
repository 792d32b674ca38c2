"""What a submit can fail with, and what the caller should do about each.

* ``SubmitRefused`` - the SMSC answered with an error status. ``retryable`` is true for
  throttling (ESME_RTHROTTLED, ESME_RMSGQFUL): send the same part again later, with
  back-off. Otherwise the SMSC will never take it: mark the message failed with
  ``status_name``.
* ``OutcomeUnknown`` (``ResponseTimeout``, ``ConnectionLost``) - the submit_sm went out
  but no answer came: the SMSC may or may not have accepted it. Resending may duplicate
  the SMS; not resending may lose it. The caller decides, knowingly.
* ``InvalidMessage`` - the message cannot be put in a submit_sm at all: fix the caller.
* ``NotBound`` - nothing was sent: no bind is up (connecting, backing off, closing).
  Safe to retry.
"""

from __future__ import annotations

from vasguard.channels.smpp.pdus import Command
from vasguard.channels.smpp.status import RETRYABLE_SUBMIT, describe, status_name


class SmppError(Exception):
    """Base of every error the SMPP channel raises to its caller."""


class InvalidMessage(SmppError, ValueError):
    """The message cannot be encoded as given (an over-long address, a short_message over
    254 octets): a caller's mistake that no retry will fix."""


class BindRefused(SmppError):
    """The SMSC answered bind_transceiver with an error (a wrong password, an unknown
    system_id, too many binds): the session logs it, backs off and tries again."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"bind refused: {describe(status)}")


class NotBound(SmppError):
    """No bound session could take the request; nothing was sent."""


class SubmitRefused(SmppError):
    """The SMSC answered the request with a non-zero command_status."""

    def __init__(self, status: int, command: Command = Command.SUBMIT_SM_RESP) -> None:
        self.status = status
        self.command = command
        self.retryable = status in RETRYABLE_SUBMIT
        verdict = "retry later" if self.retryable else "permanent"
        super().__init__(
            f"SMSC refused the submit ({command.label}): {describe(status)}; {verdict}"
        )

    @property
    def status_name(self) -> str:
        return status_name(self.status)


class OutcomeUnknown(SmppError):
    """The request was sent but its response never came: it may have been accepted."""


class ResponseTimeout(OutcomeUnknown):
    """No response within the configured response timeout."""


class ConnectionLost(OutcomeUnknown):
    """The connection closed while the request awaited its response."""

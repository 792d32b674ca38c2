"""Refusals: a request that changed nothing, with a reason fit for whoever made it.

Every refusal in the project is a ``Refused``, so each channel turns them into its own
answer in one place (the CLI's exit status 2, the API's RFC 9457 problem, an SMS reply)
and lets anything else be a bug. ``code`` is a stable machine name; ``str(refusal)`` tells
the caller what was wrong and, where it can, what to do instead.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar


class Refused(Exception):
    """Nothing was changed; ``detail`` says why."""

    code: str = "refused"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class TryLater(Refused):
    """A refusal that passes: nothing was stored, and the same request sent again after
    ``retry_after`` seconds is taken (the HTTP API's 503, SMPP's ESME_RX_T_APPN)."""

    code = "try_later"
    retry_after = 5


class InvalidInput(Refused, ValueError):
    """Input that is not of the form asked for: a time, a period, a number, a chunk size."""

    code = "invalid_input"


Reason = TypeVar("Reason", bound=StrEnum)


class RefusedBecause(Refused, Generic[Reason]):
    """A refusal whose reason is one of a use case's enumerated reasons (its ``code``)."""

    def __init__(self, refusal: Reason, detail: str) -> None:
        super().__init__(detail, refusal.value)
        self.refusal = refusal

"""Idempotency keys: a creating request sent again with the same key is done once.

As Stripe does it: the caller names each creating request with an ``Idempotency-Key``;
the first request with a key does the work and its answer is kept; a retry with the
same key and the same request gets that answer again, the work not done twice. The same
key with a different request is refused (the caller reused a key by mistake), and so is
a retry while the first is still being done: it is answered "in progress, retry", never
done alongside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vasguard.domain.refusals import Refused


@dataclass(frozen=True, slots=True)
class KeptRequest:
    """What is kept of the first request with a key: its digest, and its answer once
    there is one (``status_code`` ``None`` while the work is being done)."""

    request_sha256: bytes
    status_code: int | None
    response: str | None


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    status_code: int
    response: str


class KeyReused(Refused):
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was used for a different request; a key names one "
            "request: send a new key for a new request"
        )


class RequestInProgress(Refused):
    code = "request_in_progress"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"the first request with Idempotency-Key {key!r} is still being done; retry "
            "in a moment to get its answer (should this last, that request's outcome is "
            "unknown: check before sending it with a new key)"
        )


def answer_for_retry(kept: KeptRequest, request_sha256: bytes, key: str) -> KeptAnswer:
    """The kept answer a retry of ``kept`` gets; refused for another request under the
    same key, or while the first has no answer yet."""
    if kept.request_sha256 != request_sha256:
        raise KeyReused(key)
    if kept.status_code is None or kept.response is None:
        raise RequestInProgress(key)
    return KeptAnswer(kept.status_code, kept.response)

"""Idempotent creating requests: claim the key, do the work, keep the answer.

Three transactions, on purpose: the claim is committed before the work begins, so a
concurrent retry sees it (and is told "in progress") instead of doing the work too; the
work is the use case's own transaction; the answer is kept after it. A success is kept
and replayed to every retry. Anything else (a refusal, a failure) changed nothing, so
the claim is released and a retry is judged afresh.

The weakness: a process that dies after the work commits and before its answer is kept
leaves the claim without an answer. Retries with that key are answered "in progress"
from then on, never done twice; the caller must look (the order's ``order_ref``, the
refunds of the charge) before sending the request again under a new key.
"""

from __future__ import annotations

from vasguard.domain.clock import Clock
from vasguard.domain.idempotency import KeptAnswer, answer_for_retry
from vasguard.services.unit_of_work import UnitOfWork


def claim(
    uow: UnitOfWork, clock: Clock, *, api_key_id: int, key: str, request_sha256: bytes
) -> KeptAnswer | None:
    """``None``: the key is this request's, do the work. Otherwise the kept answer of the
    first request with the key; refused for another request, or while it is in progress."""
    while True:
        with uow:
            if uow.idempotency.claim(api_key_id, key, request_sha256, clock.now()):
                uow.commit()
                return None
            kept = uow.idempotency.kept(api_key_id, key)
        if kept is not None:
            return answer_for_retry(kept, request_sha256, key)
        # Released between the claim and the read (the first request was refused): the
        # key is free again, so claim it anew.


def keep(
    uow: UnitOfWork, clock: Clock, *, api_key_id: int, key: str, status_code: int, response: str
) -> None:
    with uow:
        uow.idempotency.keep(api_key_id, key, status_code, response, clock.now())
        uow.commit()


def release(uow: UnitOfWork, *, api_key_id: int, key: str) -> None:
    with uow:
        uow.idempotency.release(api_key_id, key)
        uow.commit()

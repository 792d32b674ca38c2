"""Causes and events: every state change says what made it happen (invariant 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class CauseKind(StrEnum):
    MO = "mo"
    API = "api"
    CLI = "cli"
    JOB = "job"
    CUSTOMER = "customer"  # the customer on their own page (/my), logged in by an SMS code


@dataclass(frozen=True, slots=True)
class Cause:
    """Who or what caused a change: an MO id, an API principal, a CLI user, a job run."""

    kind: CauseKind
    ref: str

    @classmethod
    def mo(cls, message_id: int) -> Cause:
        return cls(CauseKind.MO, str(message_id))


@dataclass(frozen=True, slots=True)
class Event:
    subscriber_id: int | None
    province: str | None
    entity: str
    entity_id: int | None
    kind: str
    cause: Cause
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)

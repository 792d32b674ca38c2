"""One MO being answered: who sent it, when, and the replies queued so far."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.templates import Templates
from vasguard.services.deployment import Deployment
from vasguard.services.messaging import mt_row
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(slots=True)
class HandledMo:
    uow: UnitOfWork
    deployment: Deployment
    subscriber: Subscriber
    id: int
    text: str
    at: datetime
    templates: Templates
    rng: random.Random = field(default_factory=secrets.SystemRandom)
    replies: list[str] = field(default_factory=list)

    def reply(
        self,
        text: str,
        *,
        kind: str = "reply",
        subscription_id: int | None = None,
        from_number: str | None = None,
    ) -> None:
        """Queue a direct reply: sent at once, at any hour, free."""
        row = mt_row(
            self.deployment,
            self.subscriber,
            kind=kind,
            text=text,
            at=self.at,
            in_reply_to=self.id,
            subscription_id=subscription_id,
            from_number=from_number,
            keep_lines=True,
        )
        self.uow.messages.queue(**row)
        self.replies.append(text)

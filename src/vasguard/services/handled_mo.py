"""One MO being answered: who sent it, when, and the replies queued so far."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.messages import MessageKind, NewMt
from vasguard.domain.templates import Templates
from vasguard.services.deployment import Deployment
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
        kind: MessageKind = MessageKind.REPLY,
        subscription_id: int | None = None,
        from_number: str | None = None,
    ) -> None:
        """Queue a direct reply: sent at once, at any hour, free."""
        self.uow.messages.queue(
            NewMt(
                self.subscriber,
                from_number or self.deployment.service_number,
                kind,
                text,
                self.at,
                in_reply_to=self.id,
                subscription_id=subscription_id,
                keep_lines=True,
            )
        )
        self.replies.append(text)

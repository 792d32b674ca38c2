"""What a deployment decides, as plain values the use cases can take without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.commands import DEFAULT_KEYWORDS, Keywords
from vasguard.domain.templates import Branding, Language, Templates


@dataclass(frozen=True, slots=True)
class Deployment:
    branding: Branding = field(default_factory=Branding)
    keywords: Keywords = DEFAULT_KEYWORDS
    listing_port: str = "10086977"
    timezone: str = "Asia/Shanghai"
    confirmation_window: timedelta = timedelta(hours=24)
    listing_validity: timedelta = timedelta(hours=24)

    @property
    def service_number(self) -> str:
        return self.branding.service_number

    def accepts(self, to: str) -> bool:
        """MOs to the service number or any of its sub-ports are ours."""
        return to.startswith(self.service_number)


def templates_for(deployment: Deployment, subscriber: Subscriber | None) -> Templates:
    language: Language = "en" if subscriber is not None and subscriber.language == "en" else "zh"
    return Templates(language, deployment.branding)

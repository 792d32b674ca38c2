"""What a deployment decides, as plain values the use cases can take without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.commands import DEFAULT_KEYWORDS, Keywords
from vasguard.domain.scorecards import Thresholds
from vasguard.domain.templates import Branding, Language, Templates


@dataclass(frozen=True, slots=True)
class Deployment:
    branding: Branding = field(default_factory=Branding)
    keywords: Keywords = DEFAULT_KEYWORDS
    listing_port: str = "10086977"
    # Further sub-ports of the service number whose MOs are ours (besides the listing's).
    sub_ports: frozenset[str] = frozenset()
    timezone: str = "Asia/Shanghai"
    confirmation_window: timedelta = timedelta(hours=24)
    listing_validity: timedelta = timedelta(hours=24)
    cancel_all_validity: timedelta = timedelta(minutes=10)
    # Notices that are not direct replies go out only inside this local window.
    sending_window: tuple[time, time] = (time(8, 0), time(22, 0))
    # The first charge waits this long after the reminder was sent.
    reminder_lead_time: timedelta = timedelta(hours=24)
    require_delivery_receipt: bool = False
    first_month: str = "full"
    scorecard_thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def service_number(self) -> str:
        return self.branding.service_number

    @property
    def numbers(self) -> frozenset[str]:
        """Every number whose MOs this platform answers: the service number and sub-ports."""
        return frozenset({self.service_number, self.listing_port, *self.sub_ports})

    def accepts(self, to: str) -> bool:
        """An MO to one of ``numbers`` is ours; anything else was routed here by mistake."""
        return to.strip() in self.numbers


def templates_for(deployment: Deployment, subscriber: Subscriber | None) -> Templates:
    language: Language = "en" if subscriber is not None and subscriber.language == "en" else "zh"
    return Templates(language, deployment.branding)

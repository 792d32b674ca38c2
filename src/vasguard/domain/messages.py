"""Messages as the services and the store hand them to each other: MOs in, MTs out.

Every MO and MT is stored (PRODUCT.md, "Message"); these types are what one side of the
store boundary tells the other about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.segmentation import Segmented, choose_encoding, split


class MessageKind(StrEnum):
    """What a stored message is (``messages.kind``): every MO, and each kind of MT."""

    MO = "mo"
    # An MO too: the 是{code} a customer read out to care, kept as their confirmation's
    # evidence (the bill run and the audit look for a confirming MO); the event names the key.
    CARE_CONSENT = "care_consent"
    REPLY = "reply"  # a direct answer to an MO
    LISTING = "listing"  # the 0000 reply, from the listing sub-port
    CONFIRMATION_REQUEST = "confirmation_request"  # 二次确认
    REMINDER = "reminder"  # 扣费提醒: the charging policy reads these
    PLAN_ORDERED = "plan_ordered"
    PLAN_CHANGED = "plan_changed"
    PLAN_EFFECTIVE = "plan_effective"
    COMPLAINT_RESOLVED = "complaint_resolved"
    LOGIN_CODE = "login_code"  # the one-time code of the customer's own page
    CANCELLED = "cancelled"  # care or the operator cancelled for the customer: told by SMS


# NUL is no character a handset sends, and PostgreSQL refuses it in text.
_NUL = "\x00"


@dataclass(frozen=True, slots=True)
class NewMo:
    """An MO about to be stored: sender (normalised), the number it was sent to, the text."""

    msisdn: str
    service_number: str
    text: str
    smsc_message_id: str | None
    created_at: datetime

    @property
    def encoding(self) -> str:
        return choose_encoding(self.text)

    @staticmethod
    def clean(text: str) -> str:
        """The text as stored: a NUL becomes U+FFFD, so nothing a customer sent is lost."""
        return text.replace(_NUL, "\ufffd")


@dataclass(frozen=True, slots=True)
class NewMt:
    """A free platform MT about to be queued: to whom, from which number, what and when.

    The full text is stored with its encoding and part count; ``keep_lines`` cuts the
    parts between lines where it can (a 0000 listing never splits an item).
    """

    subscriber: Subscriber
    service_number: str
    kind: MessageKind
    text: str
    created_at: datetime
    send_after: datetime | None = None
    in_reply_to: int | None = None
    subscription_id: int | None = None
    keep_lines: bool = False

    @property
    def segmented(self) -> Segmented:
        return split(self.text, avoid_breaking_lines=self.keep_lines)

    @property
    def due_at(self) -> datetime:
        return self.send_after or self.created_at


@dataclass(frozen=True, slots=True)
class Received:
    """A newly stored MO, and its sender when the number is one of ours."""

    mo_id: int
    sender: Subscriber | None


@dataclass(frozen=True, slots=True)
class StoredMo:
    """An MO found by its SMSC id: whether the dialogue has acted on it yet."""

    id: int
    handled_at: datetime | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A final delivery receipt for one MT part: the SMSC's id of the part, whether it
    was delivered, when it was received, and the stat it gave (``UNDELIV``, ... when not
    delivered: the reason kept with the part)."""

    smsc_message_id: str
    delivered: bool
    at: datetime
    stat: str = "DELIVRD"


@dataclass(frozen=True, slots=True)
class SettledMt:
    """An MT a receipt settled: whose it was, for the event that records it."""

    id: int
    subscriber_id: int | None
    province: str | None


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message of a subscriber's conversation with the service number."""

    id: int
    direction: str
    peer: str
    kind: str
    text: str
    parts: int
    status: str
    at: datetime

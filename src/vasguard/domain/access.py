"""Who may do what: roles, the principal a key stands for, and the one table of grants.

Every API route names the ``Action`` it performs; ``may`` is the only place that says
which roles hold it. Scoping narrows what an allowed principal sees: a partner key only
its own provider's services, a provincial key only its province's subscribers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.refusals import Refused


class Role(StrEnum):
    OPERATOR = "operator"  # the operator's own staff: everything
    CARE = "care"  # the care desk: subscribers, cancellations, complaints, refunds
    PARTNER = "partner"  # one provider: orders and reads of its own services only
    GATEWAY = "gateway"  # the SMS gateway: MOs (consent) and receipts, nothing else


class Action(StrEnum):
    READ_CATALOGUE = "read_catalogue"
    EDIT_CATALOGUE = "edit_catalogue"
    READ_SUBSCRIBER = "read_subscriber"  # profile, timeline, messages, charges, listing
    ORDER = "order"  # a service order (the partner's own services only)
    ORDER_PLAN = "order_plan"
    CONFIRM_FOR_CUSTOMER = "confirm_for_customer"  # care, with the customer's code
    CANCEL = "cancel"
    COMPLAIN = "complain"
    REFUND = "refund"
    RESOLVE_COMPLAINT = "resolve_complaint"
    READ_SUBSCRIPTIONS = "read_subscriptions"  # a partner: its own services' only
    READ_COMPLAINTS = "read_complaints"
    BILL_RUN = "bill_run"
    READ_BILLING = "read_billing"
    REPORTS = "reports"
    PARTNER_FEED = "partner_feed"  # the change feed and the webhook of the partner's own
    POST_MO = "post_mo"
    POST_RECEIPT = "post_receipt"
    USE_CONSOLE = "use_console"  # log in to the web console: the operator's own staff only


_GRANTS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset(Action) - {Action.POST_MO, Action.POST_RECEIPT, Action.PARTNER_FEED},
    Role.CARE: frozenset(
        {
            Action.READ_CATALOGUE,
            Action.READ_SUBSCRIBER,
            Action.ORDER_PLAN,
            Action.CONFIRM_FOR_CUSTOMER,
            Action.CANCEL,
            Action.COMPLAIN,
            Action.REFUND,
            Action.RESOLVE_COMPLAINT,
            Action.READ_SUBSCRIPTIONS,
            Action.READ_COMPLAINTS,
            Action.READ_BILLING,
            Action.USE_CONSOLE,
        }
    ),
    Role.PARTNER: frozenset(
        {
            Action.READ_CATALOGUE,
            Action.ORDER,
            Action.READ_SUBSCRIPTIONS,
            Action.READ_COMPLAINTS,
            Action.PARTNER_FEED,
        }
    ),
    # An MO is consent: a forged MO is forged consent, so only the gateway posts them.
    Role.GATEWAY: frozenset({Action.POST_MO, Action.POST_RECEIPT}),
}


def may(role: Role, action: Action) -> bool:
    """Whether ``role`` holds ``action``: the one table of grants."""
    return action in _GRANTS[role]


def roles_allowed(action: Action) -> list[Role]:
    """The roles holding ``action``, in declaration order (for docs and refusals)."""
    return [role for role in Role if may(role, action)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a request acts for: an API key's name and role, and its scope."""

    key_row_id: int
    name: str
    role: Role
    provider_id: int | None = None  # a partner key's provider
    province: str | None = None  # set: only this province's subscribers

    @property
    def cause(self) -> Cause:
        """What the events of this principal's changes record (invariant 9)."""
        return Cause(CauseKind.API, self.name)

    def sees_province(self, province: str) -> bool:
        return self.province is None or self.province == province

    def sees_provider(self, provider_id: int) -> bool:
        """A partner sees its own provider only; the operator's roles see every one."""
        return self.role is not Role.PARTNER or self.provider_id == provider_id


class NotYourService(Refused):
    """A partner key acting on another provider's service: refused, nothing changed."""

    code = "not_your_service"


def sees_province(principal: Principal | None, province: str) -> bool:
    """Whether a change or read of a subscriber of ``province`` is in scope (``None``: the
    CLI, which is the operator at the console, sees everything). Out of scope reads as
    unknown, so a provincial key learns nothing of other provinces' subscribers."""
    return principal is None or principal.sees_province(province)


def check_provider(principal: Principal | None, provider_id: int, service_code: str) -> None:
    if principal is not None and not principal.sees_provider(provider_id):
        raise NotYourService(f"service {service_code!r} is not one of your provider's services")


# --- API keys: "vg_" + a public id + "_" + the secret; only the secret's SHA-256 is kept --

KEY_PREFIX = "vg_"
KEY_ID_LENGTH = 12  # hex characters


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """A key as a caller presents it, split into the id that finds it and its secret."""

    key_id: str
    secret: str

    @property
    def secret_sha256(self) -> bytes:
        return hashlib.sha256(self.secret.encode()).digest()


def format_key(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secret}"


def parse_key(token: str) -> PresentedKey | None:
    """The id and secret of a well-formed key, or ``None`` (nothing to look up)."""
    if not token.startswith(KEY_PREFIX) or len(token) > 128:
        return None
    key_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != KEY_ID_LENGTH or not secret or not token.isascii():
        return None
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return PresentedKey(key_id, secret)


def secret_matches(presented: PresentedKey, stored_sha256: bytes) -> bool:
    """Constant-time comparison of the presented secret's hash with the stored one."""
    return hmac.compare_digest(presented.secret_sha256, stored_sha256)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret (which is never kept)."""

    id: int
    key_id: str
    name: str
    role: Role
    provider_code: str | None
    province: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

"""The catalogue as the API reads it, and the one catalogue change it makes: exemptions.

A partner key sees only its own provider's services (another's reads as unknown, so it
learns nothing of them); the operator's roles see them all. An exemption from the charge
reminder says why the service cannot be covered; setting or ending one is a change with
an event naming the principal (invariant 9), and from then on the reminder job and the
bill run treat the service accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vasguard.domain.access import Principal
from vasguard.domain.catalogue import Provider, Service
from vasguard.domain.clock import Clock
from vasguard.domain.events import Event
from vasguard.domain.ordering import OrderRefused, Refusal
from vasguard.domain.plans import Plan
from vasguard.domain.refusals import InvalidInput
from vasguard.services.orders import find_service
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class PlanListed:
    plan: Plan
    includes: list[str]  # the names of the services it includes, by service code


def _seen_provider(principal: Principal | None, asked: int | None) -> tuple[bool, int | None]:
    """Whether a list narrowed to provider ``asked`` (``None``: any) can show anything to
    ``principal``, and the provider it is narrowed to: a partner's own, whatever it asks."""
    if principal is None or principal.provider_id is None:
        return True, asked
    return asked in (None, principal.provider_id), principal.provider_id


def visible_service(uow: UnitOfWork, code: str, principal: Principal | None) -> Service:
    """The service of ``code`` if ``principal`` may see it; another provider's is unknown."""
    with uow:
        service = find_service(uow, code)
        if principal is not None and not principal.sees_provider(service.provider_id):
            raise OrderRefused(Refusal.UNKNOWN_SERVICE, f"there is no service with code {code!r}")
        return service


def search_services(
    uow: UnitOfWork,
    principal: Principal | None,
    *,
    search: str | None,
    provider_code: str | None,
    exempt: bool | None,
    after: int,
    limit: int,
) -> list[Service]:
    """A page of services by code prefix or name, one provider's, exempt or not."""
    with uow:
        asked = None
        if provider_code is not None:
            asked = uow.catalogue.provider_id_by_code(provider_code)
            if asked is None:
                return []
        visible, provider = _seen_provider(principal, asked)
        if not visible:
            return []
        return uow.browse.services(
            search=search,
            provider_id=provider,
            exempt=exempt,
            after=after,
            limit=limit,
        )


def list_providers(
    uow: UnitOfWork, principal: Principal | None, *, after: int, limit: int
) -> list[Provider]:
    with uow:
        _, provider = _seen_provider(principal, None)
        return uow.browse.providers(provider_id=provider, after=after, limit=limit)


def list_plans(uow: UnitOfWork, *, after: int, limit: int) -> list[PlanListed]:
    with uow:
        found = uow.browse.plans(after=after, limit=limit)
        names = uow.plans.included_names([p.id for p in found])
    return [PlanListed(p, names.get(p.id, [])) for p in found]


def set_exemption(
    uow: UnitOfWork, clock: Clock, *, code: str, reason: str | None, principal: Principal
) -> Service:
    """Exempt a service from the charge reminder with ``reason``, or end its exemption
    (``None``). Asking for what already holds changes nothing and records nothing."""
    if reason is not None:
        reason = reason.strip()
        if not reason:
            raise InvalidInput("an exemption needs a reason: why the reminder cannot cover it")
    at = clock.now()
    with uow:
        service = find_service(uow, code)
        if service.reminder_exempt_reason == reason:
            return service
        uow.catalogue.set_exemption(service.id, reason)
        uow.events.add(
            Event(
                None,
                None,
                "service",
                service.id,
                "exemption_set" if reason is not None else "exemption_ended",
                principal.cause,
                at,
                {
                    "service": service.code,
                    "reason": reason,
                    "previous": service.reminder_exempt_reason,
                },
            )
        )
        uow.commit()
    return replace(service, reminder_exempt_reason=reason)

"""The catalogue under ``/api/v1``: services (searchable), providers, plans, exemptions.

Every list is a cursor page (``channels/http/pages.py``). A partner key sees its own
provider's services only, in lists and by code alike; only the operator edits exemptions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from vasguard.bootstrap import Runtime
from vasguard.channels.http.auth import requires, runtime_of
from vasguard.channels.http.fields import Line, Prose
from vasguard.channels.http.pages import (
    Cursor,
    Limit,
    Page,
    decode_cursor,
    from_attributes,
    page_by_id,
)
from vasguard.domain.access import Action, Principal
from vasguard.domain.catalogue import Service
from vasguard.services import catalogue

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

ServiceCode = Annotated[Line, Path(max_length=21, description="service code")]


class ServiceOut(BaseModel):
    code: str
    name: str
    provider: str
    category: str
    billing_mode: str
    price_fen: int
    reminder_exempt_reason: str | None
    group_service: bool

    @classmethod
    def of(cls, service: Service) -> ServiceOut:
        return cls(
            code=service.code,
            name=service.name,
            provider=service.provider_name,
            category=service.category,
            billing_mode=service.billing_mode.value,
            price_fen=service.price_fen,
            reminder_exempt_reason=service.reminder_exempt_reason,
            group_service=service.group_service,
        )


class ServiceListed(ServiceOut):
    id: int = Field(description="the cursor's key")


class ProviderOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    access_number: str


class PlanOut(BaseModel):
    id: int
    code: str
    name: str
    monthly_fee_fen: int
    includes: list[str] = Field(description="the names of the services the plan includes")


class ExemptionIn(BaseModel):
    model_config = {"extra": "forbid"}

    reason: Annotated[Prose, Field(min_length=1, max_length=200)] = Field(
        description="why the charge reminder cannot cover the service (reported)"
    )


@router.get("/services", response_model=Page[ServiceListed])
def list_services(
    rt: Annotated[Runtime, Depends(runtime_of)],
    principal: Annotated[Principal, Depends(requires(Action.READ_CATALOGUE))],
    q: Annotated[
        Line | None,
        Query(min_length=1, max_length=80, description="a code prefix or part of the name"),
    ] = None,
    provider: Annotated[Line | None, Query(max_length=12, description="provider code")] = None,
    exempt: Annotated[bool | None, Query(description="exempt from the reminder, or not")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ServiceListed]:
    found = catalogue.search_services(
        rt.uow(),
        principal,
        search=q,
        provider_code=provider,
        exempt=exempt,
        after=decode_cursor(cursor),
        limit=limit + 1,
    )
    return page_by_id(
        found, limit, lambda s: ServiceListed(id=s.id, **ServiceOut.of(s).model_dump())
    )


@router.get("/services/{code}", response_model=ServiceOut)
def get_service(
    rt: Annotated[Runtime, Depends(runtime_of)],
    code: ServiceCode,
    principal: Annotated[Principal, Depends(requires(Action.READ_CATALOGUE))],
) -> ServiceOut:
    """One service; to a partner key, another provider's service is unknown (404)."""
    return ServiceOut.of(catalogue.visible_service(rt.uow(), code, principal))


@router.put("/services/{code}/exemption", response_model=ServiceOut)
def put_exemption(
    rt: Annotated[Runtime, Depends(runtime_of)],
    code: ServiceCode,
    body: ExemptionIn,
    principal: Annotated[Principal, Depends(requires(Action.EDIT_CATALOGUE))],
) -> ServiceOut:
    """Exempt the service from the charge reminder, with the reason; the event names the key."""
    return ServiceOut.of(
        catalogue.set_exemption(
            rt.uow(), rt.clock(), code=code, reason=body.reason, principal=principal
        )
    )


@router.delete("/services/{code}/exemption", response_model=ServiceOut)
def delete_exemption(
    rt: Annotated[Runtime, Depends(runtime_of)],
    code: ServiceCode,
    principal: Annotated[Principal, Depends(requires(Action.EDIT_CATALOGUE))],
) -> ServiceOut:
    """End the exemption: the charge reminder covers the service again."""
    return ServiceOut.of(
        catalogue.set_exemption(rt.uow(), rt.clock(), code=code, reason=None, principal=principal)
    )


@router.get("/providers", response_model=Page[ProviderOut])
def list_providers(
    rt: Annotated[Runtime, Depends(runtime_of)],
    principal: Annotated[Principal, Depends(requires(Action.READ_CATALOGUE))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ProviderOut]:
    """Every provider; a partner key, its own."""
    found = catalogue.list_providers(
        rt.uow(), principal, after=decode_cursor(cursor), limit=limit + 1
    )
    return page_by_id(found, limit, from_attributes(ProviderOut))


@router.get("/plans", response_model=Page[PlanOut])
def list_plans(
    rt: Annotated[Runtime, Depends(runtime_of)],
    _: Annotated[Principal, Depends(requires(Action.READ_CATALOGUE))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PlanOut]:
    found = catalogue.list_plans(rt.uow(), after=decode_cursor(cursor), limit=limit + 1)
    return page_by_id(
        found,
        limit,
        lambda p: PlanOut(
            id=p.plan.id,
            code=p.plan.code,
            name=p.plan.name,
            monthly_fee_fen=p.plan.monthly_fee_fen,
            includes=p.includes,
        ),
    )

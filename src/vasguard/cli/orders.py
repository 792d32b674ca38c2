"""``vasguard order``: place an order that the subscriber must confirm by SMS."""

from __future__ import annotations

from typing import Annotated

import typer

from vasguard.cli.console import AtOption, JsonOption, MsisdnOption, cli_cause, emit, out, runtime
from vasguard.domain.subscription import Channel


def order(
    msisdn: MsisdnOption,
    service: Annotated[str, typer.Option(help="the service code")],
    channel: Annotated[Channel, typer.Option(help="where the order came from")] = Channel.CARE,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Place an order; the subscriber must confirm it by SMS before it counts."""
    from vasguard.services.orders import place_order

    rt = runtime()
    clock = rt.clock(at)
    placed = place_order(
        rt.uow_for(msisdn),
        clock,
        rt.deployment,
        msisdn=msisdn,
        service_code=service,
        channel=channel,
        cause=cli_cause(),
    )
    rt.deliver(clock)

    def human() -> None:
        out.print(
            f"order {placed.subscription_id} pending confirmation until "
            f"{placed.confirm_by.isoformat()}; sent to {placed.msisdn}:"
        )
        out.print(f"  {placed.request_text}")

    emit(as_json, placed, human)

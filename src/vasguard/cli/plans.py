"""``vasguard plan``: order or change a subscriber's plan (套餐)."""

from __future__ import annotations

from typing import Annotated

import typer

from vasguard.cli.console import (
    AtOption,
    JsonOption,
    MsisdnOption,
    cli_cause,
    emit,
    out,
    runtime,
    sub_app,
)
from vasguard.domain.subscription import Channel

app = sub_app("Order or change a subscriber's plan (套餐).")


@app.command("order")
def plan_order(
    msisdn: MsisdnOption,
    plan: Annotated[str, typer.Option(help="the plan code")],
    channel: Annotated[Channel, typer.Option(help="where the order came from")] = Channel.CARE,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Order a plan, or change to it, from the 1st of next month; the subscriber is told."""
    from vasguard.services.plans import order_plan

    rt = runtime()
    ordered = order_plan(
        rt.uow_for(msisdn),
        rt.clock(at),
        rt.deployment,
        msisdn=msisdn,
        plan_code=plan,
        channel=channel,
        cause=cli_cause(),
    )

    def human() -> None:
        verb = "changed to" if ordered.changed else "ordered"
        out.print(
            f"{ordered.msisdn} {verb} plan {ordered.plan_code} from {ordered.effective_date}; "
            f"notice queued for {ordered.notice_send_after.isoformat()}:"
        )
        out.print(f"  {ordered.notice_text}")

    emit(as_json, ordered, human)

"""``vasguard sms``: talk to the service number as a subscriber's handset would."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from vasguard.cli.console import AtOption, JsonOption, MsisdnOption, emit, out, runtime, sub_app

app = sub_app("Talk to the service number as a subscriber would.")


@app.command("send")
def sms_send(
    text: Annotated[str, typer.Argument(help="the message text")],
    sender: Annotated[str, typer.Option("--from", help="the subscriber's number")],
    to: Annotated[str | None, typer.Option("--to", help="default: the service number")] = None,
    message_id: Annotated[str | None, typer.Option("--id", help="the SMSC's MO id")] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send an MO to the service number and print every reply."""
    from vasguard.services.intake import receive_mo

    rt = runtime()
    clock = rt.clock(at)
    result = receive_mo(
        rt.uow_for(sender),
        clock,
        rt.deployment,
        msisdn=sender,
        to=to or rt.deployment.service_number,
        text=text,
        smsc_message_id=message_id,
    )
    rt.deliver(clock)

    def human() -> None:
        if result.duplicate:
            out.print("duplicate MO: already handled, no reply", style="yellow")
        for reply in result.replies:
            out.print(reply)

    emit(as_json, result, human)


@app.command("inbox")
def sms_inbox(
    msisdn: MsisdnOption,
    last: Annotated[int, typer.Option(min=1, help="how many messages")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show a subscriber's latest messages, both ways, with their delivery state."""
    from vasguard.services.messaging import conversation

    rt = runtime()
    rows = conversation(rt.reader_for(msisdn), msisdn=msisdn, last=last)

    def human() -> None:
        for row in rows:
            arrow = "→" if row.direction == "mo" else "←"
            out.print(f"{row.at.isoformat()} {arrow} {row.peer} [{row.status}] {row.text}")

    emit(as_json, [asdict(r) for r in rows], human)

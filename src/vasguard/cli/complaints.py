"""``vasguard complaint`` and ``vasguard refund``: care's resolutions and refunds."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from vasguard.cli.console import AtOption, JsonOption, cli_cause, emit, out, runtime, sub_app
from vasguard.domain.shards import Addressed

app = sub_app("Resolve complaints (care).")


@app.command("resolve")
def complaint_resolve(
    ticket: Annotated[str, typer.Option(help="the complaint's ticket")],
    refund: Annotated[
        bool, typer.Option("--refund/--no-refund", help="refund the charges it covers")
    ] = False,
    note: Annotated[str | None, typer.Option(help="the resolution, as recorded")] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an open complaint, with or without refunding the charges it covers."""
    from vasguard.services.resolutions import resolve_complaint

    rt = runtime()
    clock = rt.clock(at)
    resolution = resolve_complaint(
        rt.uow_holding(Addressed.COMPLAINT, ticket),
        clock,
        rt.deployment,
        ticket=ticket,
        refund=refund,
        cause=cli_cause(),
        note=note,
    )
    rt.deliver(clock)

    def human() -> None:
        out.print(f"complaint {resolution.ticket} {resolution.resolution}")
        for r in resolution.refunds:
            out.print(f"  refund {r.refund_id}: charge {r.charge_id}, {r.amount_fen} fen")

    emit(as_json, {**asdict(resolution), "refunded_fen": resolution.refunded_fen}, human)


def refund(
    charge: Annotated[int, typer.Option(help="the charge id")],
    amount: Annotated[
        int | None, typer.Option(help="fen to refund; default the whole charge")
    ] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refund one charge (never more than it); asking again shows the refund already made."""
    from vasguard.services.resolutions import refund_charge

    rt = runtime()
    made = refund_charge(
        rt.uow_holding(Addressed.CHARGE, charge),
        rt.clock(at),
        charge_id=charge,
        amount_fen=amount,
        cause=cli_cause(),
    )

    def human() -> None:
        state = "refunded" if made.created else "already refunded"
        out.print(
            f"charge {made.charge_id} {state}: {made.amount_fen} fen (refund {made.refund_id})"
        )

    emit(as_json, made, human)

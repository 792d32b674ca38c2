"""``vasguard report``: a period's figures per province or per partner, over every shard."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict

from vasguard.cli.console import JsonOption, PeriodOption, emit, out, runtime, sub_app
from vasguard.domain.reports import ReportLine
from vasguard.services import national
from vasguard.services.deployment import Deployment
from vasguard.services.shards import UowFactory

app = sub_app("A period's figures per province or per partner (every shard's, summed).")

Report = Callable[[Mapping[str, UowFactory], Deployment, str], list[ReportLine]]


def _show(title: str, report: Report, period: str, as_json: bool) -> None:
    from rich.table import Table

    from vasguard.domain.money import yuan

    rt = runtime()
    lines = report(rt.shard_readers(), rt.deployment, period)

    def human() -> None:
        table = Table(title=f"{title}, {period}")
        for column in ("code", "name", "orders", "confirmed", "ended", "complaints"):
            table.add_column(column, justify="left" if column in ("code", "name") else "right")
        table.add_column("charged", justify="right")
        table.add_column("refunded", justify="right")
        for line in lines:
            table.add_row(
                line.code,
                line.name,
                f"{line.orders:,}",
                f"{line.confirmations:,}",
                f"{sum(line.cancellations.values()):,}",
                f"{line.complaints:,}",
                f"{line.charges:,} · {yuan(line.charged_fen)}",
                f"{line.refunds:,} · {yuan(line.refunded_fen)}",
            )
        out.print(table)

    emit(as_json, {"period": period, "lines": [asdict(line) for line in lines]}, human)


@app.command("provinces")
def provinces(period: PeriodOption, as_json: JsonOption = False) -> None:
    """Per province (the subscriber's)."""
    _show("per province", national.province_report, str(period), as_json)


@app.command("partners")
def partners(period: PeriodOption, as_json: JsonOption = False) -> None:
    """Per provider of the services (plan fees, the operator's, left out)."""
    _show("per partner", national.partner_report, str(period), as_json)

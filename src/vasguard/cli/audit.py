"""``vasguard audit``: re-check a period's charges; exit 1 on any violation."""

from __future__ import annotations

import typer
from rich.text import Text

from vasguard.cli.console import (
    JsonOption,
    PeriodOption,
    emit,
    emit_shards,
    on_shards,
    out,
    runtime,
)


def audit(period: PeriodOption, as_json: JsonOption = False) -> None:
    """Re-check every charge of a period against the invariants; exit 1 on any violation."""
    from vasguard.services.audit import audit_period

    rt = runtime()
    if rt.shard_map.configured:
        done = on_shards(
            rt, lambda _n, new_uow: audit_period(new_uow(), rt.deployment, str(period))
        )
        dirty = any(o.result is not None and o.result.violation_count for o in done)
        emit_shards(
            as_json,
            f"audit, period {period}",
            done,
            lambda r: {"charges": r.charges, "violations": r.violation_count},
        )
        if dirty:
            raise typer.Exit(1)
        return
    report = audit_period(rt.uow(), rt.deployment, str(period))

    def human() -> None:
        for v in report.violations:
            out.print(Text.assemble(f"charge {v.charge_id}: ", (v.rule, "red"), f" {v.detail}"))
        out.print(
            f"period {report.period}: {report.charges:,} charges checked, "
            f"{report.violation_count:,} violations"
        )

    emit(as_json, report, human)
    if report.violation_count:
        raise typer.Exit(1)

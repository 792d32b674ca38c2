"""The audit of a period: every charge re-checked against invariants 1–5 from stored rows.

It shares no SQL with the bill run (its queries are in ``store/audit.py``), so a bug in the
bill run's eligibility shows up here as a violation instead of being repeated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

from vasguard.domain.charging import ChargingPolicy, policy_from_json
from vasguard.domain.periods import Period
from vasguard.services.billing import policy_for
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork

# Violations listed in full; beyond this only the counts per rule grow.
LISTED = 1000


@dataclass(frozen=True, slots=True)
class Violation:
    charge_id: int
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    period: str
    charges: int
    violation_count: int
    by_rule: dict[str, int]
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.violation_count == 0


def audit_period(
    uow: UnitOfWork, deployment: Deployment, period: str, *, listed: int = LISTED
) -> AuditReport:
    """Check each charge of ``period``; a charge of an unrecorded bill run is checked
    against the deployment's current policy (and reported for the missing run).

    The period (``InvalidInput`` if malformed or out of range) and the deployment's policy
    are checked before the database is read.
    """
    audited = Period.parse(period, deployment.timezone)
    fallback = policy_for(deployment)
    by_rule: Counter[str] = Counter()
    shown: list[Violation] = []
    with uow:
        repo = uow.audit
        total = repo.count(audited)
        checks = [
            repo.duplicates(audited),
            repo.confirmation(audited),
            repo.plan_fees(audited),
            repo.unknown_runs(audited),
            repo.ended_before_period(audited),
        ]
        for group in repo.groups(audited):
            policy: ChargingPolicy = (
                policy_from_json(group.policy_json) if group.policy_json is not None else fallback
            )
            checks += [
                repo.reminders(audited, group, policy),
                repo.activity(audited, group),
                repo.plan_inclusion(audited, group),
                repo.amounts(audited, group, policy),
            ]
        for found in chain.from_iterable(checks):
            by_rule[found.rule] += 1
            if len(shown) < listed:
                shown.append(Violation(found.charge_id, found.rule, found.detail))
    return AuditReport(str(audited), total, sum(by_rule.values()), dict(by_rule), shown)

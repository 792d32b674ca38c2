"""The platform's Prometheus metrics, declared once; channels and the process update them.

``/metrics`` serves ``REGISTRY`` in the Prometheus text format. Label values are small,
fixed sets (states, statuses, job names), never numbers or message ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MOS = Counter(
    "vasguard_mo_total",
    "MOs taken from the network, by outcome (handled, duplicate, refused, deferred, not_handled)",
    ["outcome"],
    registry=REGISTRY,
)
MTS = Counter(
    "vasguard_mt_parts_total",
    "MT parts by what happened to them (submitted, throttled, failed, delivered, undelivered)",
    ["state"],
    registry=REGISTRY,
)
SUBMIT_SECONDS = Histogram(
    "vasguard_submit_seconds",
    "Time from submit_sm to its submit_sm_resp",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "vasguard_outbox_depth",
    "MTs queued and due, as last counted by the sender",
    registry=REGISTRY,
)
RECEIPTS = Counter(
    "vasguard_receipts_total",
    "Delivery receipts by their stated status (DELIVRD, UNDELIV, EXPIRED, …)",
    ["status"],
    registry=REGISTRY,
)
BINDS_UP = Gauge(
    "vasguard_smpp_binds_up",
    "SMPP binds currently bound",
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "vasguard_job_seconds",
    "How long a scheduled job ran",
    ["job"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
    registry=REGISTRY,
)
JOBS = Counter(
    "vasguard_jobs_total",
    "Scheduled job runs by result (ok, refused, failed, skipped)",
    ["job", "result"],
    registry=REGISTRY,
)

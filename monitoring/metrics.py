"""Every Prometheus metric of the platform, defined once.

Labels are low-cardinality only: venue API (binance.spot, binance.usdm, binance.coinm, bitmex),
operation (submit, amend, cancel, query, ...), outcome, error class. Never a symbol or an id.

Under gunicorn and Celery prefork these run in prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR); gauges therefore declare how processes combine.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# 1 ms .. 30 s
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

# --- orders ---------------------------------------------------------------------------------
ORDERS_ACCEPTED = Counter(
    "orders_accepted_total", "Orders accepted by the API", ["venue", "order_type"]
)
ORDERS_SUBMITTED = Counter(
    "orders_submitted_total", "Orders acknowledged by a venue", ["venue", "order_type"]
)
ORDERS_REJECTED = Counter(
    "orders_rejected_total",
    "Orders rejected by a venue (business rejection)",
    ["venue", "order_type"],
)
ORDERS_FAILED = Counter(
    "orders_failed_total", "Orders that never reached a venue", ["venue", "order_type"]
)
ORDER_TRANSITIONS = Counter(
    "order_transitions_total", "Order state transitions", ["to_state", "actor"]
)
ORDER_END_TO_END_SECONDS = Histogram(
    "order_end_to_end_seconds",
    "From API accept to the venue's acknowledgement",
    ["venue"],
    buckets=LATENCY_BUCKETS,
)
OUTCOME_UNKNOWN_OPEN = Gauge(
    "orders_outcome_unknown_open",
    "Orders in SUBMIT_UNKNOWN right now",
    ["venue"],
    multiprocess_mode="mostrecent",
)
OUTCOME_UNKNOWN_OLDEST_SECONDS = Gauge(
    "orders_outcome_unknown_oldest_age_seconds",
    "Age of the oldest SUBMIT_UNKNOWN order",
    ["venue"],
    multiprocess_mode="mostrecent",
)

# --- venue calls ----------------------------------------------------------------------------
VENUE_CALLS = Counter(
    "venue_calls_total", "HTTP calls to venues", ["venue", "operation", "outcome"]
)
VENUE_CALL_SECONDS = Histogram(
    "venue_call_seconds",
    "Duration of one HTTP call to a venue",
    ["venue", "operation"],
    buckets=LATENCY_BUCKETS,
)
VENUE_ERRORS = Counter(
    "venue_errors_total", "Venue call errors by class", ["venue", "operation", "error_class"]
)
RETRIES = Counter("retries_total", "Retries of venue calls", ["venue", "operation", "reason"])

# --- circuit breakers -----------------------------------------------------------------------
BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Breaker state: 0 closed, 1 half-open, 2 open, 3 forced open, 4 forced closed",
    ["venue"],
    multiprocess_mode="mostrecent",
)
BREAKER_TRANSITIONS = Counter(
    "circuit_breaker_transitions_total", "Breaker state transitions", ["venue", "to_state"]
)
BREAKER_REJECTED_CALLS = Counter(
    "circuit_breaker_rejected_calls_total", "Calls refused by an open breaker", ["venue"]
)
# Fast outage detection: pings sent to confirm a failure (outcome: ok | failed | refused),
# and how each confirmation ended (verdict: opened | venue_ok | gave_up | busy).
DETECTION_PROBES = Counter(
    "breaker_detection_probes_total", "Pings sent to confirm a venue failure", ["venue", "outcome"]
)
DETECTION_CONFIRMATIONS = Counter(
    "breaker_detection_confirmations_total",
    "Confirmations of a venue failure by their verdict",
    ["venue", "verdict"],
)

# --- rate budgets ---------------------------------------------------------------------------
RATE_BUDGET_USED = Gauge(
    "rate_budget_used",
    "Rate budget used in the current window",
    ["venue", "budget"],
    multiprocess_mode="mostrecent",
)
RATE_BUDGET_REMAINING = Gauge(
    "rate_budget_remaining",
    "Rate budget left in the current window",
    ["venue", "budget"],
    multiprocess_mode="mostrecent",
)
RATE_COOLDOWN_SECONDS = Gauge(
    "rate_limit_cooldown_seconds",
    "Seconds until a 429 cooldown ends",
    ["venue"],
    multiprocess_mode="mostrecent",
)
RATE_BAN_SECONDS = Gauge(
    "rate_limit_ban_seconds",
    "Seconds until a venue ban (418) ends",
    ["venue"],
    multiprocess_mode="mostrecent",
)
RATE_LIMITED = Counter(
    "rate_limited_total", "Calls delayed or refused by the rate budget", ["venue", "priority"]
)

# --- reconciliation -------------------------------------------------------------------------
RECONCILIATION_RUNS = Counter("reconciliation_runs_total", "Reconciliation passes", ["venue"])
RECONCILIATION_CORRECTIONS = Counter(
    "reconciliation_corrections_total",
    "Platform state corrected from the venue's",
    ["venue", "kind"],
)

# --- celery ---------------------------------------------------------------------------------
CELERY_TASKS = Counter("celery_tasks_total", "Celery tasks run", ["task", "outcome"])
CELERY_TASK_SECONDS = Histogram(
    "celery_task_seconds", "Celery task duration", ["task"], buckets=LATENCY_BUCKETS
)
BEAT_HEARTBEAT_TIMESTAMP = Gauge(
    "beat_heartbeat_timestamp_seconds",
    "Unix time of the last beat heartbeat a worker ran (beat, broker and a worker all alive)",
    multiprocess_mode="max",
)


class CeleryQueueLengthCollector:
    """celery_queue_length{queue}: messages waiting in each broker queue, read at scrape time.

    Served by every worker's metrics endpoint; several workers report the same queues, so
    aggregate with max() (never sum)."""

    def describe(self):
        """Lets the registry know the name without a broker round trip at registration."""
        yield self._family()

    @staticmethod
    def _family():
        from prometheus_client.core import GaugeMetricFamily

        return GaugeMetricFamily(
            "celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
        )

    def collect(self):
        from django.conf import settings

        family = self._family()
        try:
            client = _broker_client()
            lengths = [(name, client.llen(name)) for name in settings.CELERY_TASK_QUEUES_NAMES]
        except Exception:  # broker down: no sample; the worker's own alerts cover it
            lengths = []
        for name, length in lengths:
            family.add_metric([name], length)
        yield family


def _broker_client():
    from monitoring.redis import broker_client

    return broker_client()

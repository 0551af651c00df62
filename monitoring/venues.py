"""What one HTTP exchange with a venue reports: metrics, the `venue_call` log line, and the
"last successful call" health shows. Call observe_venue_call() once per exchange (the
reliability layer's guarded_call, or the adapter around its HTTP call).

Vocabulary (keep it; the alert rules and the dashboard depend on it):
- outcome: "ok" (the venue answered and accepted) or "error" (anything else)
- error_class: reliability.errors.ErrorClass values: retryable, rejected, outcome_unknown, fatal
A business rejection ("rejected") still proves the venue reachable: it updates last success.
"""

from __future__ import annotations

import time

import structlog

from monitoring import metrics
from monitoring.redis import state_client

log = structlog.get_logger(__name__)

LAST_SUCCESS_PREFIX = "venue:last_success:"
REACHABLE_CLASSES = (None, "rejected")


def observe_venue_call(
    venue: str,
    operation: str,
    *,
    seconds: float,
    error_class: str | None = None,
    status: int | None = None,
    now: float | None = None,
) -> None:
    """Counts and times one call; writes one log line carrying the bound correlation id."""
    outcome = "ok" if error_class is None else "error"
    metrics.VENUE_CALLS.labels(venue=venue, operation=operation, outcome=outcome).inc()
    metrics.VENUE_CALL_SECONDS.labels(venue=venue, operation=operation).observe(seconds)
    if error_class is not None:
        metrics.VENUE_ERRORS.labels(
            venue=venue, operation=operation, error_class=str(error_class)
        ).inc()
    if error_class in REACHABLE_CLASSES:
        _mark_success(venue, now if now is not None else time.time())
    log.info(
        "venue_call",
        venue=venue,
        operation=operation,
        outcome=outcome,
        error_class=error_class and str(error_class),
        http_status=status,
        duration_ms=round(seconds * 1000, 2),
    )


def _mark_success(venue: str, now: float) -> None:
    metrics.VENUE_LAST_SUCCESS.labels(venue=venue).set(now)
    try:
        state_client().set(LAST_SUCCESS_PREFIX + venue, f"{now:.3f}")
    except Exception as exc:  # Redis down must never fail a venue call that succeeded
        log.warning("venue_last_success_not_stored", venue=venue, error=str(exc))


def last_success_at(venue: str) -> float | None:
    """Unix time of the venue API's last answered call, shared by every process; None if never."""
    raw = state_client().get(LAST_SUCCESS_PREFIX + venue)
    return float(raw) if raw is not None else None

"""Retry policies: which error classes each operation retries, and the backoff between tries.

Policy as data (POLICIES); numbers from settings (RETRY_*). Backoff is exponential with full
jitter (a uniform draw in [0, min(cap, base * 2**(n-1))]), never shorter than the venue's
Retry-After, bounded by attempts and by the call's deadline. tenacity drives the loop with the
runtime's sleep, so tests run the schedule without waiting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from tenacity import RetryCallState, stop_after_attempt, wait_exponential
from tenacity.stop import stop_base

from monitoring.metrics import RETRIES
from reliability.conf import RetryConfig
from reliability.errors import (
    BreakerOpenError,
    DeadlineExceededError,
    ErrorClass,
    RateLimitedError,
    VenueError,
)

log = structlog.get_logger(__name__)

R, U = ErrorClass.RETRYABLE, ErrorClass.OUTCOME_UNKNOWN


@dataclass(frozen=True)
class RetryPolicy:
    retry_on: frozenset[ErrorClass]  # REJECTED and FATAL are never retried
    attempts: str  # key of RetryConfig.attempts


# Writes retry only what provably did not happen: an outcome-unknown submit or amend goes back
# to the caller at once (the resolver queries the venue by client order id). Cancels are
# idempotent by client order id, reads have no effect: both retry an unknown outcome too.
POLICIES: dict[str, RetryPolicy] = {
    "submit": RetryPolicy(frozenset({R}), "submit"),
    "amend": RetryPolicy(frozenset({R}), "amend"),
    "cancel": RetryPolicy(frozenset({R, U}), "cancel"),
    "query": RetryPolicy(frozenset({R, U}), "query"),
    # A detection ping (reliability/detection.py) is one attempt: its spacing is the detector's.
    "probe": RetryPolicy(frozenset(), "query"),
}
# Reads with another name share the query policy.
READ_OPERATIONS = frozenset(
    {"query", "open_orders", "fills", "market_data", "instruments", "server_time", "ping"}
)


def policy_for(operation: str) -> RetryPolicy:
    """Unknown operation names get the write policy: never retry an unknown outcome."""
    if operation in POLICIES:
        return POLICIES[operation]
    return POLICIES["query"] if operation in READ_OPERATIONS else POLICIES["submit"]


def should_retry(policy: RetryPolicy, exc: BaseException) -> bool:
    if isinstance(exc, BreakerOpenError | RateLimitedError | DeadlineExceededError):
        return False  # refused before sending: the caller fails fast or fails over
    return isinstance(exc, VenueError) and exc.error_class in policy.retry_on


class FullJitterBackoff(wait_exponential):
    """Full jitter inside tenacity's exponential window, never shorter than Retry-After."""

    def __init__(self, *, base: float, cap: float, rng: random.Random):
        super().__init__(multiplier=base, max=cap, exp_base=2, min=0)
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        window = super().__call__(retry_state)
        delay = self.rng.uniform(0, window)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(delay, float(retry_after))


class stop_at_deadline(stop_base):
    """Stop when the next attempt would start after the deadline (upcoming sleep included)."""

    def __init__(self, deadline: float, clock: Callable[[], float]):
        self.deadline, self.clock = deadline, clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep >= self.deadline


def stop_for(policy: RetryPolicy, config: RetryConfig, deadline: float, clock) -> stop_base:
    return stop_after_attempt(config.attempts[policy.attempts]) | stop_at_deadline(deadline, clock)


def retry_reason(exc: BaseException | None) -> str:
    if isinstance(exc, VenueError):
        return "rate_limited" if exc.status == 429 else exc.error_class.value
    return type(exc).__name__ if exc else "unknown"


def log_retry(venue_api: str, operation: str, retry_state: RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    reason = retry_reason(exc)
    RETRIES.labels(venue=venue_api, operation=operation, reason=reason).inc()
    log.warning(
        "venue.retry",
        venue_api=venue_api,
        operation=operation,
        attempt=retry_state.attempt_number,
        sleep_seconds=round(retry_state.upcoming_sleep, 4),
        reason=reason,
        error=str(exc)[:300] if exc else "",
    )

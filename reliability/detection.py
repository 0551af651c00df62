"""Fast outage detection: a venue-health failure on a closed breaker is confirmed at once.

The breaker trips on BREAKER_FAILURE_COUNT consecutive failures. Counted on order traffic
alone, that takes seconds at low rates: at 1 order/s, a venue answering 503 (outcome unknown
on a submit, so one failure per order) needs 5 s of orders. Instead, when a call fails with a
venue-health failure (see `is_health_failure`) while the breaker is closed, the failing call
confirms it before returning: up to DETECTION_PROBES pings (the venue's cheapest public call,
weight 1), DETECTION_PROBE_INTERVAL_SECONDS apart, the first at once. Each ping goes through
guarded_call like any venue call (operation "probe": the rate budget is charged, the breaker
lets it through and records its outcome, it is never retried), so

- a failed ping is one more breaker failure: a real outage reaches the count within
  (failure_count - 1) * interval (0.6 s by default) of the first failure;
- a ping that succeeds ends the confirmation, and as any success resets the consecutive
  count: one failed call on a healthy venue never opens the breaker;
- business rejections, 429s, bans, auth failures and bugs never start one; nor does a breaker
  that is not closed (half-open keeps its single probe; forced states are the operator's).

One confirmation per venue API runs at a time across the fleet (a Redis key taken with SET NX
and an expiry; per process while Redis is unreachable); other failing calls meanwhile count as
usual and return at once. Waits use reliability.runtime's clock and sleep. Every ping is
logged (`breaker.detection_probe`) and counted (breaker_detection_probes_total), every
confirmation too (`breaker.detection`, breaker_detection_confirmations_total).

The pings need the venue adapters, which import this package (never the other way round):
exchanges registers one prober per venue API at start (`register_prober`).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings

from monitoring.metrics import DETECTION_CONFIRMATIONS, DETECTION_PROBES
from reliability.errors import (
    BreakerOpenError,
    DeadlineExceededError,
    ErrorClass,
    RateLimitedError,
    VenueError,
)
from reliability.runtime import runtime
from reliability.transitions import BreakerState

log = structlog.get_logger(__name__)

PROBE_OPERATION = "probe"
_LOCK_KEY = "reliability:detection:{}"
# Longest a ping may hang past DETECTION_MAX_SECONDS (the adapters' read timeout is 10 s): the
# fleet-wide claim expires then even if its holder died mid-confirmation.
_CLAIM_SLACK_SECONDS = 15.0
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

_LOCAL = "local"  # the claim token while Redis is unreachable
_probers: dict[str, Callable[[], object]] = {}
_confirming: contextvars.ContextVar[bool] = contextvars.ContextVar("detecting", default=False)
_local_claims: set[str] = set()
_local_lock = threading.Lock()


def register_prober(venue_api: str, ping: Callable[[], object]) -> None:
    """ping(): one guarded call of operation "probe"; raises a VenueError when it fails."""
    _probers[venue_api] = ping


def is_health_failure(exc: VenueError) -> bool:
    """Does this failure say something about the venue's health? Connection refused or reset,
    timeouts (no status) and 5xx answers do; business rejections, 4xx (429 included), bans,
    auth failures and refusals before sending do not."""
    if isinstance(exc, BreakerOpenError | RateLimitedError | DeadlineExceededError) or exc.ban:
        return False
    if exc.error_class not in (ErrorClass.RETRYABLE, ErrorClass.OUTCOME_UNKNOWN):
        return False
    return exc.status is None or exc.status >= 500


def after_failure(
    venue_api: str, operation: str, exc: VenueError, breaker, *, elapsed: float = 0.0
) -> str | None:
    """Called by guarded_call once a failure is recorded; confirms it when it should.

    Returns the confirmation's verdict (opened | venue_ok | gave_up | busy), None if none ran.
    A call that failed after DETECTION_MAX_SECONDS or more (a venue that hangs) is not
    confirmed: its pings would most likely hang as long.
    """
    config = settings.RELIABILITY_DETECTION
    if not config.probes or operation == PROBE_OPERATION or _confirming.get():
        return None
    if elapsed >= config.max_seconds:
        return None
    if not is_health_failure(exc) or breaker.last_seen_state is not BreakerState.CLOSED:
        return None
    ping = _probers.get(venue_api)
    if ping is None:
        return None
    token = _claim(venue_api, config)
    if token is None:
        verdict = "busy"  # another worker is confirming this venue API right now
    else:
        reset = _confirming.set(True)
        try:
            verdict = _confirm(venue_api, ping, breaker, config, trigger=exc)
        finally:
            _confirming.reset(reset)
            _release(venue_api, token)
    DETECTION_CONFIRMATIONS.labels(venue=venue_api, verdict=verdict).inc()
    return verdict


def _confirm(venue_api: str, ping, breaker, config, *, trigger: VenueError) -> str:
    rt = runtime()
    started = rt.clock()
    verdict, sent = "gave_up", 0
    for n in range(config.probes):
        if n:
            rt.sleep(config.probe_interval_seconds)
        if breaker.last_seen_state is not BreakerState.CLOSED:
            verdict = "opened"
            break
        if rt.clock() - started >= config.max_seconds:
            break
        sent += 1
        outcome = _probe(venue_api, ping, sent)
        if outcome == "ok":
            verdict = "venue_ok"
            break
        if breaker.last_seen_state is not BreakerState.CLOSED:
            verdict = "opened"
            break
        if outcome == "refused":
            break  # rate budget short: the venue's traffic will tell
    log.info(
        "breaker.detection",
        venue_api=venue_api,
        verdict=verdict,
        probes=sent,
        seconds=round(rt.clock() - started, 3),
        trigger=str(trigger)[:200],
        error_class=trigger.error_class.value,
    )
    return verdict


def _probe(venue_api: str, ping, number: int) -> str:
    """ok: the venue answered; failed: a breaker failure; refused: not sent (breaker, budget)."""
    error = ""
    try:
        ping()
        outcome = "ok"
    except (BreakerOpenError, RateLimitedError, DeadlineExceededError) as exc:
        outcome, error = "refused", str(exc)
    except VenueError as exc:
        answered = exc.error_class is ErrorClass.REJECTED or exc.status == 429
        outcome, error = ("ok" if answered else "failed"), str(exc)
    except Exception as exc:  # a bug in the prober: guarded_call counted it as a failure
        outcome, error = "failed", f"{type(exc).__name__}: {exc}"
    DETECTION_PROBES.labels(venue=venue_api, outcome=outcome).inc()
    log.info(
        "breaker.detection_probe",
        venue_api=venue_api,
        probe=number,
        outcome=outcome,
        error=error[:200],
    )
    return outcome


def _claim(venue_api: str, config) -> str | None:
    """A token when this caller may confirm (no one else in the fleet is), else None."""
    import redis

    from monitoring.redis import state_client

    token = uuid.uuid4().hex
    ttl_ms = int((config.max_seconds + _CLAIM_SLACK_SECONDS) * 1000)
    try:
        taken = state_client().set(_LOCK_KEY.format(venue_api), token, nx=True, px=ttl_ms)
    except redis.RedisError:
        with _local_lock:  # Redis down: one confirmation per process
            if venue_api in _local_claims:
                return None
            _local_claims.add(venue_api)
        return _LOCAL
    return token if taken else None


def _release(venue_api: str, token: str) -> None:
    import redis

    from monitoring.redis import state_client

    if token == _LOCAL:
        with _local_lock:
            _local_claims.discard(venue_api)
        return
    with contextlib.suppress(redis.RedisError):  # else the claim expires by itself
        state_client().eval(_RELEASE, 1, _LOCK_KEY.format(venue_api), token)

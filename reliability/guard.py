"""The one entry point adapters use to call a venue: rate budget -> breaker -> call -> retries.

CONTRACT (adapters depend on exactly this signature; the reliability issue fills in the body):

    guarded_call(venue_api, operation, fn, *, weight=1, orders=0, priority=Priority.NORMAL,
                 deadline=None) -> result of fn()

- venue_api: "binance.spot" | "binance.usdm" | "binance.coinm" | "bitmex"
- operation: "submit" | "amend" | "cancel" | "query" | "market_data" | "instruments" | ...
- fn: a zero-argument callable doing ONE HTTP exchange and returning a Response-like result.
  It raises a reliability.errors.VenueError subclass on failure (already classified). It may
  return an object with `.headers` so the budget can correct itself from venue headers.
- weight / orders: the venue's request weight and order-count cost of the call.
- priority: cancels and reconciliation reads (HIGH) go before new orders (NORMAL) when short.
- deadline: absolute time.time() after which no further attempt starts.

Raises BreakerOpenError / RateLimitedError (sent=False) when refused before sending, or the
last VenueError when retries are exhausted. An OutcomeUnknownError from a submit is never
retried here: it goes straight back to the caller (the resolver handles it).

What guarded_call does with each error class fn raises (breaker = this venue API's breaker):

| raised by fn                        | breaker                 | retried?                                  |
|-------------------------------------|-------------------------|-------------------------------------------|
| RetryableError (5xx overloaded, ...)| failure                 | yes, every operation (backoff + jitter)   |
|   ... with status 429               | success (venue answers) | yes, after max(backoff, Retry-After); the |
|                                     |                         | shared budget cools down for every worker |
| RejectedError (business answer)     | success (never trips)   | never                                     |
| OutcomeUnknownError                 | failure                 | submit/amend (and unknown names): never;  |
|                                     |                         | cancel and reads: yes                     |
| FatalError (auth)                   | failure                 | never                                     |
| error.ban (BannedError) / HTTP 418  | open until the ban ends | never                                     |
| (ban: Retry-After or default)       | (trigger "ban")         |                                           |
| any other exception (a bug)         | failure                 | never (propagates unchanged)              |

A venue-health failure (connection, timeout, 5xx) recorded on a closed breaker is confirmed
before it is raised: reliability/detection.py pings the venue a few times (operation "probe").
A successful call slower than the breaker's slow-call threshold counts as a breaker failure
(its result is still returned). Refusals before sending (BreakerOpenError, RateLimitedError,
DeadlineExceededError; all sent=False) are never retried here: the caller fails fast or fails
over. If an earlier attempt's outcome is unknown, a later refusal re-raises that
OutcomeUnknownError instead (something may have happened at the venue). Every retry is logged
(`venue.retry`) and counted (retries_total{venue,operation,reason}); every attempt is counted
in venue_calls_total / venue_call_seconds / venue_errors_total, so adapters need not.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from tenacity import Retrying, retry_if_exception

from monitoring.metrics import VENUE_CALL_SECONDS, VENUE_CALLS, VENUE_ERRORS
from reliability.channel import channel
from reliability.detection import PROBE_OPERATION
from reliability.detection import after_failure as confirm_outage
from reliability.errors import (
    BreakerOpenError,
    DeadlineExceededError,
    ErrorClass,
    OutcomeUnknownError,
    RateLimitedError,
    VenueError,
)
from reliability.runtime import runtime

T = TypeVar("T")


class Priority(enum.IntEnum):
    HIGH = 0  # cancels, reconciliation reads
    NORMAL = 1  # new orders, amends
    LOW = 2  # market data, instrument refresh


def guarded_call(
    venue_api: str,
    operation: str,
    fn: Callable[[], T],
    *,
    weight: int = 1,
    orders: int = 0,
    priority: Priority = Priority.NORMAL,
    deadline: float | None = None,
) -> T:
    from reliability.retry import policy_for, should_retry

    rt = runtime()
    policy = policy_for(operation)
    config = settings.RELIABILITY_RETRY
    if deadline is None:
        deadline = rt.clock() + config.default_deadline_seconds
    attempt = _Attempt(venue_api, operation, fn, weight, orders, Priority(priority), deadline)
    try:
        try:
            return attempt()
        except Exception as first:
            if not should_retry(policy, first):
                raise
            return _retry(attempt, first, policy, config, deadline, rt)
    except (BreakerOpenError, RateLimitedError, DeadlineExceededError) as refusal:
        if attempt.unknown is not None:
            raise attempt.unknown from refusal
        raise


def _retry(attempt: _Attempt, first: Exception, policy, config, deadline: float, rt):
    """The first attempt failed and its error is one to retry: tenacity runs the rest of the
    schedule starting from that failure (handed to it as its attempt 1), so attempt counts,
    backoff, stop conditions and retry logs are those of tenacity driving every attempt; a call
    that succeeds at once never pays for setting tenacity up."""
    from reliability.retry import FullJitterBackoff, log_retry, should_retry, stop_for

    venue_api, operation = attempt.venue_api, attempt.operation
    replayed = []

    def replay_then_attempt():
        if not replayed:
            replayed.append(first)
            raise first
        return attempt()

    retrying = Retrying(
        retry=retry_if_exception(lambda exc: should_retry(policy, exc)),
        stop=stop_for(policy, config, deadline, rt.clock),
        wait=FullJitterBackoff(
            base=config.base_seconds, cap=config.max_backoff_seconds, rng=rt.rng
        ),
        sleep=rt.sleep,
        before_sleep=lambda state: log_retry(venue_api, operation, state),
        reraise=True,
    )
    return retrying(replay_then_attempt)


class _Attempt:
    """One try: deadline -> rate budget -> breaker -> fn() -> settle breaker and budget."""

    def __init__(self, venue_api, operation, fn, weight, orders, priority, deadline):
        self.venue_api, self.operation, self.fn = venue_api, operation, fn
        self.weight, self.orders, self.priority, self.deadline = weight, orders, priority, deadline
        self.unknown: OutcomeUnknownError | None = None

    def __call__(self):
        from reliability.breaker import breaker_for
        from reliability.budget import budget_for

        clock = runtime().clock
        now = clock()
        if now >= self.deadline:
            raise DeadlineExceededError(self.venue_api, operation=self.operation)
        breaker = breaker_for(self.venue_api)
        budget = budget_for(self.venue_api)
        permit, used = self._admit(breaker, budget, now)
        started = clock()
        try:
            result = self.fn()
        except VenueError as exc:
            self._settle_error(exc, breaker, budget, permit, clock() - started)
            raise
        except Exception:
            self._count("bug", clock() - started)
            breaker.record_failure(permit, cause="unexpected_exception")
            raise
        elapsed = clock() - started
        self._count("ok", elapsed)
        self._settle_success(result, breaker, budget, permit, used, elapsed)
        return result

    def _admit(self, breaker, budget, now: float):
        """(breaker permit, budget use): rate budget and breaker both let the call through.

        Without a trip to Redis when this process saw the breaker closed on Redis less than
        BREAKER_CACHE_SECONDS ago and its budget lease covers the call (HIGH or NORMAL).
        Otherwise, when this process last saw the breaker closed, the budget's charge (with
        a new lease) and the breaker's acquire (with the batch of successes) go to Redis in
        one trip on the call path's channel (reliability/channel.py). Otherwise, or when that
        trip cannot decide: fail fast on an open breaker, wait for budget, then take the
        permit (a probe in half-open).
        """
        permit = breaker.local_permit(now)
        if permit is not None:
            used = budget.take_local(now, self.weight, self.orders, self.priority)
            if used is not None:
                return permit, used
        if breaker.seen_closed() and not budget.degraded:
            admitted = self._admit_together(breaker, budget)
            if admitted is not None:
                return admitted
        breaker.check()  # fail fast before waiting for budget
        used = budget.acquire(
            weight=self.weight, orders=self.orders, priority=self.priority, deadline=self.deadline
        )
        return breaker.acquire(), used

    def _admit_together(self, breaker, budget):
        ch = channel()
        batch = ch.batch()
        ticket = budget.queue_acquire(
            batch, weight=self.weight, orders=self.orders, priority=self.priority, lease=True
        )
        successes = breaker.queue_acquire(batch)
        sent_at = runtime().clock()
        replies = ch.call(batch)
        if replies is None:
            # Redis failed: the step-by-step path falls back to local state; the successes
            # are recorded there (twice, should the trip have reached Redis after all)
            breaker.replay_successes(successes)
            return None
        budget_reply, breaker_reply = replies
        if isinstance(breaker_reply, Exception):
            breaker.replay_successes(successes)
        if isinstance(budget_reply, Exception) or isinstance(breaker_reply, Exception):
            return None  # e.g. scripts not loaded yet (NOSCRIPT): nothing was charged or taken
        used = budget.acquired(budget_reply, ticket)
        permit = breaker.permit(breaker_reply, sent_at=sent_at)  # BreakerOpenError if open
        if used is None:
            # Budget short: wait for it holding the permit. (If the breaker had gone half-open
            # meanwhile and the wait then fails, the probe slot lapses with its lease.)
            used = budget.acquire(
                weight=self.weight,
                orders=self.orders,
                priority=self.priority,
                deadline=self.deadline,
            )
        return permit, used

    def _settle_success(self, result, breaker, budget, permit, used, elapsed: float) -> None:
        """Header correction, then the breaker's success (or slow-call failure).

        A closed breaker's success and a correction of counts change nothing this call waits
        for: the success joins this process's batch (sent with its next trip to Redis, or on
        the channel without waiting once the batch is BREAKER_CACHE_SECONDS old), a
        correction is sent on the channel without waiting (replies read on this thread's next
        trip; replayed the ordinary way if they failed). Everything else goes step by step.
        """
        correction = budget.correction(headers=getattr(result, "headers", None), known_used=used)
        slow = breaker.config.slow_call_seconds
        is_slow = bool(slow and elapsed > slow)
        if (
            not is_slow
            and not permit.probe
            and self.operation != PROBE_OPERATION  # its success ends an outage confirmation
            and breaker.seen_closed()
            and not budget.degraded
            and (correction is None or correction.counts_only)
        ):
            due = breaker.note_success(permit, runtime().clock())
            if due or correction is not None:
                self._defer(breaker, budget, correction, due)
            return
        if correction is not None:
            budget.apply(correction)
        if is_slow:
            breaker.record_failure(permit, cause="slow_call")
        else:
            breaker.record_success(permit)

    @staticmethod
    def _defer(breaker, budget, correction, successes_due: bool) -> None:
        ch = channel()
        batch = ch.batch()
        handlers = []
        if correction is not None:
            budget.queue_observe(batch, correction)
            handlers.append(
                lambda reply: budget.apply(correction) if isinstance(reply, Exception) else None
            )
        if successes_due:
            successes = breaker.queue_successes(batch)
            if successes[0]:
                handlers.append(
                    lambda reply: breaker.replay_successes(successes)
                    if isinstance(reply, Exception)
                    else breaker.recorded(reply)
                )
        if handlers:
            ch.send(batch, handlers)

    def _count(self, outcome: str, elapsed: float) -> None:
        calls, seconds = _children(self.venue_api, self.operation, outcome)
        calls.inc()
        seconds.observe(max(elapsed, 0.0))

    def _settle_error(self, exc: VenueError, breaker, budget, permit, elapsed: float) -> None:
        self._count(exc.error_class.value, elapsed)
        VENUE_ERRORS.labels(
            venue=self.venue_api, operation=self.operation, error_class=exc.error_class.value
        ).inc()
        if isinstance(exc, OutcomeUnknownError):
            self.unknown = exc
        ban_until = budget.observe(
            headers=exc.headers,
            status=exc.status,
            retry_after=exc.retry_after,
            banned=exc.ban or exc.status == 418,
        )
        if ban_until is not None:
            breaker.open_until(ban_until, reason=str(exc)[:200])
        elif exc.status == 429 or exc.error_class is ErrorClass.REJECTED:
            breaker.record_success(permit)  # the venue answered: it is up
        else:
            breaker.record_failure(permit, cause=exc.error_class.value)
            confirm_outage(self.venue_api, self.operation, exc, breaker, elapsed=elapsed)


_metric_children: dict[tuple[str, str, str], tuple] = {}


def _children(venue_api: str, operation: str, outcome: str) -> tuple:
    """VENUE_CALLS and VENUE_CALL_SECONDS children of a call, looked up once per label set."""
    key = (venue_api, operation, outcome)
    children = _metric_children.get(key)
    if children is None:
        children = _metric_children[key] = (
            VENUE_CALLS.labels(venue=venue_api, operation=operation, outcome=outcome),
            VENUE_CALL_SECONDS.labels(venue=venue_api, operation=operation),
        )
    return children

"""guarded_call: what each error class does to retries and the breaker (fake clock, no sleeps)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from reliability.breaker import breaker_for
from reliability.errors import (
    BreakerOpenError,
    DeadlineExceededError,
    FatalError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)
from reliability.guard import guarded_call

pytestmark = pytest.mark.django_db

API = "binance.spot"


@pytest.fixture(autouse=True)
def _no_ping_to_confirm(monkeypatch):
    """These tests script the venue's calls, not its ping: no outage confirmation here (the
    confirmation's own tests are in test_detection.py)."""
    from reliability import detection

    monkeypatch.delitem(detection._probers, API, raising=False)


class Script:
    """fn for guarded_call: plays a list of outcomes (an exception to raise or a value)."""

    def __init__(self, *outcomes, clock=None, duration=0.0):
        self.outcomes = list(outcomes)
        self.calls = 0
        self.clock, self.duration = clock, duration

    def __call__(self):
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(self.duration)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def retries(operation: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "retries_total", {"venue": API, "operation": operation, "reason": reason}
    )
    return value or 0.0


def test_it_returns_the_result_of_a_healthy_call(fake_clock):
    assert guarded_call(API, "query", Script("ok")) == "ok"
    assert fake_clock.sleeps == []


def test_retryable_errors_are_retried_with_full_jitter_inside_the_exponential_window(
    fake_clock, settings
):
    settings.RELIABILITY_BREAKERS = {
        **settings.RELIABILITY_BREAKERS,
        API: settings.RELIABILITY_BREAKERS[API].__class__(failure_count=50),
    }
    before = retries("query", "retryable")
    fn = Script(*[RetryableError("overloaded", status=503)] * 3, "ok")
    assert guarded_call(API, "query", fn) == "ok"
    assert fn.calls == 4
    base, cap = (
        settings.RELIABILITY_RETRY.base_seconds,
        settings.RELIABILITY_RETRY.max_backoff_seconds,
    )
    assert len(fake_clock.sleeps) == 3
    for n, slept in enumerate(fake_clock.sleeps, start=1):
        assert 0 <= slept <= min(cap, base * 2 ** (n - 1)), (n, slept)
    assert retries("query", "retryable") == before + 3


def test_the_jitter_covers_its_window_over_many_schedules(settings):
    """Full jitter: draws spread over [0, window], not bunched at the top (no sleeping)."""
    import random

    from reliability.retry import FullJitterBackoff

    backoff = FullJitterBackoff(base=0.5, cap=4.0, rng=random.Random(1))

    class State:
        def __init__(self, n):
            self.attempt_number = n
            self.outcome = None

    for n, window in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        draws = [backoff(State(n)) for _ in range(400)]
        assert all(0 <= d <= window for d in draws)
        assert min(draws) < window * 0.1 and max(draws) > window * 0.9


def test_attempts_are_bounded_per_operation(fake_clock, settings):
    settings.RELIABILITY_BREAKERS = {
        **settings.RELIABILITY_BREAKERS,
        API: settings.RELIABILITY_BREAKERS[API].__class__(failure_count=50),
    }
    fn = Script(RetryableError("down", status=503))
    with pytest.raises(RetryableError):
        guarded_call(API, "cancel", fn)
    assert fn.calls == settings.RELIABILITY_RETRY.attempts["cancel"]


def test_an_outcome_unknown_submit_is_never_retried(fake_clock):
    fn = Script(OutcomeUnknownError("read timeout"))
    with pytest.raises(OutcomeUnknownError):
        guarded_call(API, "submit", fn)
    assert fn.calls == 1
    assert fake_clock.sleeps == []


@pytest.mark.parametrize("operation", ["amend", "place_order", "batch_submit"])
def test_unknown_outcomes_of_writes_and_unlisted_operations_are_not_retried(fake_clock, operation):
    fn = Script(OutcomeUnknownError("5xx"))
    with pytest.raises(OutcomeUnknownError):
        guarded_call(API, operation, fn)
    assert fn.calls == 1


def test_an_outcome_unknown_cancel_or_read_is_retried(fake_clock):
    fn = Script(OutcomeUnknownError("timeout"), "canceled")
    assert guarded_call(API, "cancel", fn) == "canceled"
    fn = Script(OutcomeUnknownError("timeout"), "order")
    assert guarded_call(API, "query", fn) == "order"


def test_rejections_are_not_retried_and_never_trip_the_breaker(fake_clock):
    fn = Script(RejectedError("insufficient balance", code=-2010))
    for _ in range(20):
        with pytest.raises(RejectedError):
            guarded_call(API, "submit", fn)
    assert fn.calls == 20
    assert breaker_for(API).state == "closed"


def test_fatal_errors_are_not_retried_but_count_against_the_breaker(fake_clock):
    fn = Script(FatalError("invalid api key", status=401))
    limit = breaker_for(API).config.failure_count
    for _ in range(limit):
        with pytest.raises(FatalError):
            guarded_call(API, "query", fn)
    assert fn.calls == limit
    assert breaker_for(API).state == "open"
    with pytest.raises(BreakerOpenError) as refused:
        guarded_call(API, "query", fn)
    assert refused.value.sent is False
    assert fn.calls == limit


def test_a_429_is_retried_after_its_retry_after(fake_clock):
    fn = Script(RetryableError("too many", status=429, retry_after=3.0), "ok")
    assert guarded_call(API, "query", fn) == "ok"
    assert fake_clock.sleeps[0] >= 3.0
    assert breaker_for(API).snapshot()["consecutive_failures"] == 0


def test_no_retry_starts_after_the_deadline(fake_clock):
    fn = Script(RetryableError("too many", status=429, retry_after=30.0), "ok")
    with pytest.raises(RetryableError):
        guarded_call(API, "query", fn, deadline=fake_clock.now + 10)
    assert fn.calls == 1
    assert fake_clock.sleeps == []


def test_a_deadline_already_passed_refuses_before_sending(fake_clock):
    fn = Script("ok")
    with pytest.raises(DeadlineExceededError) as refused:
        guarded_call(API, "submit", fn, deadline=fake_clock.now - 1)
    assert refused.value.sent is False
    assert fn.calls == 0


def test_a_refusal_after_an_unknown_outcome_reraises_the_unknown_outcome(fake_clock, settings):
    settings.RELIABILITY_BREAKERS = {
        **settings.RELIABILITY_BREAKERS,
        API: settings.RELIABILITY_BREAKERS[API].__class__(failure_count=1),
    }
    fn = Script(OutcomeUnknownError("timeout after accept"))
    with pytest.raises(OutcomeUnknownError) as raised:
        guarded_call(API, "cancel", fn)  # cancel retries unknowns, but the breaker opened
    assert fn.calls == 1
    assert isinstance(raised.value.__cause__, BreakerOpenError)


def test_a_slow_success_counts_as_a_breaker_failure_but_returns(fake_clock, settings):
    slow = settings.RELIABILITY_BREAKERS[API].slow_call_seconds
    fn = Script("late", clock=fake_clock, duration=slow + 0.5)
    for _ in range(breaker_for(API).config.failure_count):
        assert guarded_call(API, "query", fn) == "late"
    snap = breaker_for(API).snapshot()
    assert snap["state"] == "open"
    from reliability.models import CircuitEvent

    event = CircuitEvent.objects.get(venue_api=API, to_state="open")
    assert event.details["cause"] == "slow_call"


def test_a_418_ban_opens_the_breaker_until_the_ban_ends(fake_clock):
    banned = FatalError("IP banned", status=418, retry_after=120.0)
    fn = Script(banned)
    with pytest.raises(FatalError):
        guarded_call(API, "query", fn)
    snap = breaker_for(API).snapshot()
    assert snap["state"] == "open"
    assert snap["retry_at"] == pytest.approx(fake_clock.now + 120)
    fake_clock.advance(119)
    with pytest.raises(BreakerOpenError) as refused:
        guarded_call(API, "query", Script("ok"))
    assert refused.value.retry_after == pytest.approx(1.0)
    fake_clock.advance(1)
    assert guarded_call(API, "query", Script("ok")) == "ok"  # the probe closes it again
    assert breaker_for(API).state == "closed"


def test_every_transition_is_stored_with_its_trigger(fake_clock):
    from reliability.models import CircuitEvent

    fn = Script(RetryableError("down", status=503))
    breaker = breaker_for(API)
    while breaker.state == "closed":
        with pytest.raises(RetryableError):
            guarded_call(API, "submit", fn)
    fake_clock.advance(breaker.config.recovery_seconds)
    assert guarded_call(API, "query", Script("ok")) == "ok"
    moves = list(
        CircuitEvent.objects.filter(venue_api=API)
        .order_by("id")
        .values_list("from_state", "to_state", "trigger", "actor")
    )
    assert moves == [
        ("closed", "open", "failures", "system"),
        ("open", "half_open", "recovery_timeout", "system"),
        ("half_open", "closed", "probe_success", "system"),
    ]
    state = REGISTRY.get_sample_value("circuit_breaker_state", {"venue": API})
    assert state == 0


@pytest.mark.django_db(transaction=True)
def test_threads_of_one_process_share_the_breaker_safely(fresh_reliability, settings):
    """gunicorn threads: many concurrent calls, one trip, counts consistent."""
    import threading

    settings.RELIABILITY_RETRY = settings.RELIABILITY_RETRY.__class__(
        attempts={"submit": 1, "amend": 1, "cancel": 1, "query": 1}
    )
    errors = []

    def hammer():
        for _ in range(10):
            try:
                guarded_call(API, "query", Script(RetryableError("down", status=503)))
            except BreakerOpenError:
                pass
            except RetryableError:
                pass
            except Exception as exc:  # anything else is a bug
                errors.append(exc)
        from django.db import connection

        connection.close()  # this thread's own connection (the transition's CircuitEvent)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    from reliability.models import CircuitEvent

    assert errors == []
    assert breaker_for(API).state == "open"
    assert CircuitEvent.objects.filter(venue_api=API, to_state="open").count() == 1

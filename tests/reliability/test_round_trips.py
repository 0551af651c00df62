"""What a venue call costs in Redis round trips (bench/adapter.py measures the time): a healthy
call waits for no trip while this process's view of a closed breaker is younger than
BREAKER_CACHE_SECONDS and its budget lease covers the call; otherwise for one (rate budget with
a new lease + breaker admission with the batch of successes, one write on the call path's
channel). A header correction is sent after the call without waiting, its reply read on the
thread's next trip; whatever failed is replayed the ordinary way."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import pytest
import redis
from redis.connection import AbstractConnection

from monitoring.redis import state_client
from reliability.breaker import Breaker, breaker_for
from reliability.budget import budget_for
from reliability.channel import channel
from reliability.conf import Budget
from reliability.errors import BreakerOpenError, FatalError, RateLimitedError
from reliability.guard import guarded_call
from tests.fixtures.reliability import CountingVenue as Venue
from tests.fixtures.reliability import VenueAnswer as Answer

pytestmark = pytest.mark.django_db

API = "binance.spot"


@pytest.fixture
def round_trips(monkeypatch):
    """What this process sends to Redis ("send", a pipeline or batch being one) and each reply
    it reads ("read"), in order."""
    events = []
    send, read = AbstractConnection.send_packed_command, AbstractConnection.read_response
    main = threading.current_thread()  # not the breaker's flusher thread

    def counting_send(self, command, check_health=True):
        if threading.current_thread() is main:
            events.append("send")
        return send(self, command, check_health)

    def counting_read(self, *args, **kwargs):
        if threading.current_thread() is main:
            events.append("read")
        return read(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting_send)
    monkeypatch.setattr(AbstractConnection, "read_response", counting_read)
    return events


def waits(events) -> int:
    """Round trips waited for: sends followed by reading a reply."""
    return sum(1 for a, b in itertools.pairwise(events) if a == "send" and b == "read")


@pytest.fixture
def roomy_limits(settings):
    """A budget large enough to lease from (2 % of 1,000 per 10 s: up to 20 a lease)."""
    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        budgets={
            **rate.budgets,
            API: (Budget("weight_1m", "window", 1000, 10, "weight", "ip", "x-mbx-used-weight-1m"),),
        },
    )


def cache_seconds() -> float:
    return breaker_for(API).config.cache_seconds


@pytest.fixture
def spot_limits(settings):
    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        max_wait_seconds=600,
        budgets={
            **rate.budgets,
            API: (Budget("weight_1m", "window", 10, 10, "weight", "ip", "x-mbx-used-weight-1m"),),
        },
    )


def test_a_healthy_call_waits_for_one_round_trip_then_none(fake_clock, round_trips, roomy_limits):
    fake_clock.now = (fake_clock.now // 10 + 1) * 10  # the start of a window
    guarded_call(API, "query", Venue())  # loads the scripts
    breaker_for(API).record_failure(breaker_for(API).acquire())  # one failure to be reset
    fake_clock.advance(cache_seconds() + 1e-3)
    round_trips.clear()
    venue = Venue({"X-MBX-USED-WEIGHT-1M": "2"})  # nothing the budget does not know
    guarded_call(API, "query", venue)
    assert waits(round_trips) == 1  # admission, lease, breaker
    round_trips.clear()
    for _ in range(3):
        guarded_call(API, "query", venue)
    assert venue.calls == 4
    assert round_trips == []  # on the lease and the fresh view of a closed breaker
    assert channel().pending() == 0
    snapshot = Breaker(API).snapshot()  # another handle: what every other process sees
    assert snapshot["consecutive_failures"] == 1  # the successes wait in this process's batch
    fake_clock.advance(cache_seconds() + 1e-3)
    round_trips.clear()
    guarded_call(API, "query", venue)  # one trip again: it takes the batch along
    assert waits(round_trips) == 1
    snapshot = Breaker(API).snapshot()
    assert snapshot["consecutive_failures"] == 0 and snapshot["window_calls"] == 6


def test_an_idle_process_records_its_batch_of_successes_all_the_same(fake_clock, roomy_limits):
    guarded_call(API, "query", Venue())
    breaker_for(API).record_failure(breaker_for(API).acquire())
    fake_clock.advance(cache_seconds() + 1e-3)
    guarded_call(API, "query", Venue())
    guarded_call(API, "query", Venue())  # two successes in the batch; then no more calls
    fake_clock.advance(cache_seconds() + 1e-3)  # the flusher thread records the batch
    assert wait_until(lambda: Breaker(API).snapshot()["consecutive_failures"] == 0)
    assert Breaker(API).snapshot()["window_calls"] == 4


def wait_until(condition, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_header_with_news_corrects_the_budget_without_a_wait(
    fake_clock, round_trips, spot_limits
):
    guarded_call(API, "query", Venue())
    round_trips.clear()
    guarded_call(API, "query", Venue({"X-MBX-USED-WEIGHT-1M": "7"}))  # another client's use
    assert waits(round_trips) == 1 and channel().pending() == 1  # admission; the correction
    assert budget_for(API).snapshot()["budgets"]["weight_1m"]["used"] == 7


def test_a_deferred_record_that_failed_is_replayed(fake_clock, spot_limits):
    guarded_call(API, "query", Venue())
    breaker = breaker_for(API)
    breaker.record_failure(breaker.acquire())

    def venue_forgetting_scripts():
        state_client().script_flush()  # as a Redis restart would: the deferred EVALSHA fails
        return Answer({"X-MBX-USED-WEIGHT-1M": "9"})

    guarded_call(API, "query", venue_forgetting_scripts)
    assert channel().pending() == 1
    channel().drain()  # NOSCRIPT: replayed through the script's own loading
    assert budget_for(API).snapshot()["budgets"]["weight_1m"]["used"] == 9


def test_a_batch_whose_trip_fails_is_recorded_the_ordinary_way(fake_clock, roomy_limits):
    guarded_call(API, "query", Venue())
    breaker = breaker_for(API)
    breaker.record_failure(breaker.acquire())
    fake_clock.advance(cache_seconds() + 1e-3)
    guarded_call(API, "query", Venue())  # a success in the batch
    fake_clock.advance(cache_seconds() + 1e-3)
    state_client().script_flush()  # the admission trip's scripts fail (NOSCRIPT)
    guarded_call(API, "query", Venue())
    snapshot = Breaker(API).snapshot()
    assert snapshot["consecutive_failures"] == 0 and snapshot["window_calls"] >= 2


def test_a_deferred_record_that_cannot_be_sent_is_recorded_the_ordinary_way(
    fake_clock, spot_limits, monkeypatch
):
    guarded_call(API, "query", Venue())
    breaker = breaker_for(API)
    breaker.record_failure(breaker.acquire())
    conn = channel()._thread().conn
    real_send = conn.send_packed_command

    def venue_then_broken_channel():
        def broken(*args, **kwargs):
            raise redis.ConnectionError("connection reset")

        monkeypatch.setattr(conn, "send_packed_command", broken)
        return Answer({"X-MBX-USED-WEIGHT-1M": "8"})

    guarded_call(API, "query", venue_then_broken_channel)
    assert channel().pending() == 0
    assert budget_for(API).snapshot()["budgets"]["weight_1m"]["used"] == 8
    monkeypatch.setattr(conn, "send_packed_command", real_send)
    assert guarded_call(API, "query", Venue()).headers == {}  # the channel reconnects


def test_a_failure_after_batched_successes_reaches_redis_after_them(fake_clock, roomy_limits):
    guarded_call(API, "query", Venue())
    breaker = breaker_for(API)
    breaker.record_failure(breaker.acquire())
    fake_clock.advance(cache_seconds() + 1e-3)
    guarded_call(API, "query", Venue())
    guarded_call(API, "query", Venue())  # two successes in the batch

    def refused_key():
        raise FatalError("invalid API key", status=401)  # a failure, never retried

    with pytest.raises(FatalError):
        guarded_call(API, "submit", refused_key)
    snapshot = Breaker(API).snapshot()
    assert snapshot["consecutive_failures"] == 1  # reset by the batch, then this failure
    assert snapshot["window_calls"] == 5


def test_a_probe_is_recorded_before_the_call_returns(fake_clock):
    breaker = breaker_for(API)
    breaker.force_open(by="alice", reason="maintenance")
    breaker.reset(by="alice", reason="back")  # closed, but seen through the step-by-step path
    Breaker(API).open_until(fake_clock.now + 1, reason="ban")  # another process's ban
    fake_clock.advance(2)
    guarded_call(API, "query", Venue())  # the half-open probe
    assert channel().pending() == 0
    assert Breaker(API).snapshot()["state"] == "closed"


def test_a_breaker_opened_by_another_process_refuses_within_the_cache_time(fake_clock):
    guarded_call(API, "query", Venue())
    assert breaker_for(API).seen_closed()
    Breaker(API).force_open(by="alice", reason="maintenance")  # another process's handle
    venue = Venue()
    guarded_call(API, "query", venue)  # within BREAKER_CACHE_SECONDS: the last view admits it
    assert venue.calls == 1
    fake_clock.advance(cache_seconds() + 1e-3)
    with pytest.raises(BreakerOpenError) as refused:
        guarded_call(API, "query", venue)
    assert venue.calls == 1 and refused.value.forced
    assert not breaker_for(API).seen_closed()  # the next call fails fast on the breaker first
    with pytest.raises(BreakerOpenError):
        guarded_call(API, "query", venue)


def test_a_short_budget_still_waits_after_the_one_trip_admission(fake_clock, spot_limits):
    fake_clock.now = (fake_clock.now // 10 + 1) * 10  # the start of a window
    venue = Venue()
    for _ in range(10):
        guarded_call(API, "query", venue)
    guarded_call(API, "query", venue)  # waits for the next window
    assert venue.calls == 11
    assert fake_clock.sleeps and 10 <= sum(fake_clock.sleeps) <= 10.6
    with pytest.raises(RateLimitedError):
        for _ in range(10):
            guarded_call(API, "query", venue, deadline=fake_clock.now + 1)

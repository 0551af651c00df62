"""What a venue call costs in Redis round trips (bench/adapter.py measures the time): a healthy
call is admitted in one pipelined trip (rate budget + breaker) and recorded in one more; the
venue's rate headers cost a trip only when they say something the budget does not know."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from redis.connection import AbstractConnection

from reliability.breaker import Breaker, breaker_for
from reliability.budget import budget_for
from reliability.conf import Budget
from reliability.errors import BreakerOpenError, RateLimitedError
from reliability.guard import guarded_call

pytestmark = pytest.mark.django_db

API = "binance.spot"


@dataclass
class Answer:
    headers: dict


class Venue:
    def __init__(self, headers=None):
        self.headers, self.calls = headers or {}, 0

    def __call__(self):
        self.calls += 1
        return Answer(self.headers)


@pytest.fixture
def round_trips(monkeypatch):
    """Counts the requests this process sends to Redis (a pipeline is one)."""
    sent = []
    original = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


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


def test_a_healthy_call_costs_two_round_trips(fake_clock, round_trips, spot_limits):
    guarded_call(API, "query", Venue())  # loads the scripts
    round_trips.clear()
    venue = Venue({"X-MBX-USED-WEIGHT-1M": "1"})  # nothing the budget does not know
    guarded_call(API, "query", venue)
    assert venue.calls == 1
    assert len(round_trips) == 2
    assert budget_for(API).snapshot()["budgets"]["weight_1m"]["used"] == 2


def test_a_header_with_news_corrects_the_budget_in_a_third_trip(
    fake_clock, round_trips, spot_limits
):
    guarded_call(API, "query", Venue())
    round_trips.clear()
    guarded_call(API, "query", Venue({"X-MBX-USED-WEIGHT-1M": "7"}))  # another client's use
    assert len(round_trips) == 3
    assert budget_for(API).snapshot()["budgets"]["weight_1m"]["used"] == 7


def test_a_breaker_opened_by_another_process_refuses_the_one_trip_admission(fake_clock):
    guarded_call(API, "query", Venue())
    assert breaker_for(API).seen_closed()
    Breaker(API).force_open(by="alice", reason="maintenance")  # another process's handle
    venue = Venue()
    with pytest.raises(BreakerOpenError) as refused:
        guarded_call(API, "query", venue)
    assert venue.calls == 0 and refused.value.forced
    assert not breaker_for(API).seen_closed()  # the next call fails fast on the breaker first
    with pytest.raises(BreakerOpenError):
        guarded_call(API, "query", venue)
    used = budget_for(API).snapshot()["budgets"]["weight_1m"]["used"]
    assert used == 2  # the one-trip admission charged its call; the fail-fast one did not


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

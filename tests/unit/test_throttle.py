"""The per-key throttle: DRF's sliding log, checked and recorded in one Redis round trip."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from orders.throttling import ApiKeyRateThrottle
from tests.fixtures.redis_trips import RoundTrips

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def throttle(monkeypatch):
    clock = Clock()

    def make():
        t = ApiKeyRateThrottle()
        t.rate, (t.num_requests, t.duration) = "3/min", (3, 60)
        t.timer = clock
        return t

    return make, clock


def request(key_id: int):
    return SimpleNamespace(
        user=SimpleNamespace(key=SimpleNamespace(pk=key_id, digest=f"d{key_id}"))
    )


def test_it_allows_n_requests_per_period_per_key(throttle):
    make, clock = throttle
    assert [make().allow_request(request(1), None) for _ in range(3)] == [True] * 3
    refused = make()
    assert refused.allow_request(request(1), None) is False
    assert refused.wait() == pytest.approx(60.0)  # the oldest leaves the window in 60 s
    assert make().allow_request(request(2), None) is True  # another key
    clock.now += 30
    assert make().allow_request(request(1), None) is False
    clock.now += 30.001
    assert make().allow_request(request(1), None) is True


def test_a_request_costs_one_round_trip(throttle, monkeypatch):
    make, _clock = throttle
    make().allow_request(request(1), None)  # loads the script
    trips = RoundTrips(monkeypatch)
    make().allow_request(request(1), None)
    assert len(trips.sent) == 1


def test_with_redis_down_requests_are_allowed(throttle, redis_server):
    make, _clock = throttle
    redis_server.stop()
    assert all(make().allow_request(request(1), None) for _ in range(5))

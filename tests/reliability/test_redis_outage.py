"""Redis restarted mid-run: breakers fall back to a local breaker, say so, and recover."""

from __future__ import annotations

import pytest

from monitoring.redis import state_client
from reliability import health
from reliability.breaker import BreakerStoreUnavailable, breaker_for
from reliability.errors import BreakerOpenError, RetryableError
from reliability.guard import guarded_call

pytestmark = pytest.mark.django_db

API = "bitmex"


def ok():
    return "ok"


def down():
    raise RetryableError("overloaded", status=503)


def test_it_falls_back_to_a_local_breaker_and_recovers(fake_clock, redis_server, settings):
    breaker = breaker_for(API)
    assert guarded_call(API, "query", ok) == "ok"
    assert breaker.degraded is False

    redis_server.stop()
    # within BREAKER_CACHE_SECONDS calls are admitted on the last view without Redis
    fake_clock.advance(breaker.config.cache_seconds + 1e-3)
    assert guarded_call(API, "query", ok) == "ok"  # calls keep flowing
    assert breaker.degraded is True
    report = health.snapshot()
    assert report["degraded"] is True and report["ok"] is False
    assert report["breakers"][API]["state"] == "closed"

    # the local breaker still protects the venue
    for _ in range(breaker.config.failure_count):
        with pytest.raises(RetryableError):
            guarded_call(API, "submit", down)
    with pytest.raises(BreakerOpenError):
        guarded_call(API, "query", ok)
    with pytest.raises(BreakerStoreUnavailable):
        breaker.force_open(by="alice", reason="cannot reach the other processes")

    redis_server.start()
    fake_clock.advance(settings.RELIABILITY_REDIS_RETRY_SECONDS)
    assert breaker.state == "open"  # Redis came back empty: this process's view is adopted
    assert breaker.degraded is False
    assert state_client().hget(f"reliability:breaker:{API}", "state") == "open"
    assert health.snapshot()["degraded"] is False
    fake_clock.advance(breaker.config.recovery_seconds)
    assert guarded_call(API, "query", ok) == "ok"
    assert breaker.state == "closed"

"""Rate budgets: weights, order counts, priorities, header corrections, 429 and 418."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from reliability.breaker import breaker_for
from reliability.budget import RateBudget, budget_for
from reliability.conf import Budget
from reliability.errors import BreakerOpenError, FatalError, RateLimitedError, RetryableError
from reliability.guard import Priority, guarded_call

pytestmark = pytest.mark.django_db

SPOT, BITMEX = "binance.spot", "bitmex"
FAR = float("inf")


@pytest.fixture
def small_limits(settings):
    """binance.spot: 10 weight / 10 s (IP), 4 orders / 10 s (key); bitmex: 5/min + 2/s."""
    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        max_wait_seconds=600,
        budgets={
            **rate.budgets,
            SPOT: (
                Budget("weight_1m", "window", 10, 10, "weight", "ip", "x-mbx-used-weight-1m"),
                Budget("orders_10s", "window", 4, 10, "orders", "key", "x-mbx-order-count-10s"),
            ),
            BITMEX: (
                Budget("requests_1m", "bucket", 5, 60, "request", "key", "x-ratelimit-remaining"),
                Budget("orders_1s", "bucket", 2, 1, "orders", "key", "x-ratelimit-remaining-1s"),
            ),
        },
    )
    return settings.RELIABILITY_RATE


def take(budget, *, weight=1, orders=0, priority=Priority.HIGH, deadline=FAR):
    budget.acquire(weight=weight, orders=orders, priority=priority, deadline=deadline)


def window_start(clock, period=10):
    clock.now = (clock.now // period + 1) * period  # the start of the next window


def test_it_charges_weight_and_waits_for_the_next_window(fake_clock, small_limits):
    window_start(fake_clock)
    budget = budget_for(SPOT)
    take(budget, weight=6)
    take(budget, weight=4)
    assert fake_clock.sleeps == []
    take(budget, weight=1)  # the window is full: wait for the next one
    assert len(fake_clock.sleeps) == 1
    assert 10 <= fake_clock.sleeps[0] <= 10.05
    assert budget.snapshot()["budgets"]["weight_1m"]["used"] == 1


def test_order_counts_are_a_budget_of_their_own(fake_clock, small_limits):
    window_start(fake_clock)
    budget = budget_for(SPOT)
    for _ in range(4):
        take(budget, orders=1)
    with pytest.raises(RateLimitedError) as refused:
        take(budget, orders=1, deadline=fake_clock.now + 5)
    assert refused.value.sent is False
    assert refused.value.retry_after == pytest.approx(10)
    take(budget, orders=0)  # a read still fits the weight budget


def test_high_priority_keeps_its_reserve_when_the_budget_is_short(fake_clock, small_limits):
    window_start(fake_clock)
    budget = budget_for(SPOT)
    for _ in range(8):  # NORMAL may use 80 % of the weight
        take(budget, priority=Priority.NORMAL)
    before = (
        REGISTRY.get_sample_value("rate_limited_total", {"venue": SPOT, "priority": "normal"}) or 0
    )
    with pytest.raises(RateLimitedError):
        take(budget, priority=Priority.NORMAL, deadline=fake_clock.now + 1)
    after = REGISTRY.get_sample_value("rate_limited_total", {"venue": SPOT, "priority": "normal"})
    assert after == before + 1
    with pytest.raises(RateLimitedError):
        take(budget, priority=Priority.LOW, deadline=fake_clock.now + 1)
    take(budget, priority=Priority.HIGH)  # a cancel still goes
    take(budget, priority=Priority.HIGH)
    assert fake_clock.sleeps == []


def test_a_call_costing_more_than_the_budget_can_hold_is_refused_at_once(fake_clock, small_limits):
    with pytest.raises(RateLimitedError) as refused:
        take(budget_for(SPOT), weight=11)
    assert refused.value.reason == "too_big"
    assert fake_clock.sleeps == []


def test_the_venues_used_weight_header_corrects_the_count(fake_clock, small_limits):
    window_start(fake_clock)
    budget = budget_for(SPOT)
    take(budget)
    budget.observe(headers={"X-MBX-USED-WEIGHT-1M": "9", "X-MBX-ORDER-COUNT-10S": "4"})
    snap = budget.snapshot()["budgets"]
    assert snap["weight_1m"]["used"] == 9 and snap["orders_10s"]["used"] == 4
    budget.observe(headers={"X-MBX-USED-WEIGHT-1M": "2"})  # never lowers our own count
    assert budget.snapshot()["budgets"]["weight_1m"]["used"] == 9
    take(budget)
    with pytest.raises(RateLimitedError):
        take(budget, deadline=fake_clock.now + 1)


def test_bitmex_remaining_headers_lower_the_token_buckets(fake_clock, small_limits):
    budget = budget_for(BITMEX)
    take(budget, orders=1)
    budget.observe(headers={"x-ratelimit-remaining": "1", "x-ratelimit-remaining-1s": "1"})
    assert budget.snapshot()["budgets"]["requests_1m"]["used"] == pytest.approx(4)
    take(budget)  # the last token
    take(budget)  # refilled after 12 s (5 per minute)
    assert fake_clock.sleeps and 12 <= fake_clock.sleeps[0] <= 12.1


def test_bitmex_reset_header_cools_down_every_worker_when_nothing_remains(fake_clock, small_limits):
    worker_a, worker_b = RateBudget(BITMEX), RateBudget(BITMEX)
    worker_a.observe(
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(fake_clock.now + 7)}
    )
    with pytest.raises(RateLimitedError) as refused:
        take(worker_b, deadline=fake_clock.now + 3)
    assert refused.value.reason == "cooldown"
    assert refused.value.retry_after == pytest.approx(7)


def test_a_429_cools_down_the_budget_of_every_worker_and_is_retried_after_retry_after(
    fake_clock, small_limits
):
    calls = []

    def fn():
        calls.append(fake_clock.now)
        if len(calls) == 1:
            raise RetryableError("too many requests", status=429, headers={"Retry-After": "4"})
        return "ok"

    start = fake_clock.now
    assert guarded_call(SPOT, "query", fn) == "ok"
    assert calls[1] - start >= 4
    cooldown = REGISTRY.get_sample_value("rate_limit_cooldown_seconds", {"venue": SPOT})
    assert cooldown == pytest.approx(4)
    # another worker calling during the cooldown waits for it too
    other = RateBudget(SPOT)
    other.observe(status=429, retry_after=5)
    with pytest.raises(RateLimitedError):
        take(RateBudget(SPOT), deadline=fake_clock.now + 1)


def test_a_418_bans_the_venue_api_and_opens_its_breaker_until_the_ban_ends(
    fake_clock, small_limits
):
    def banned():
        raise FatalError("IP banned", status=418, headers={"Retry-After": "300"})

    with pytest.raises(FatalError):
        guarded_call(SPOT, "query", banned)
    breaker = breaker_for(SPOT)
    assert breaker.state == "open"
    assert breaker.snapshot()["retry_at"] == pytest.approx(fake_clock.now + 300)
    assert budget_for(SPOT).snapshot()["ban_seconds"] == pytest.approx(300)
    assert REGISTRY.get_sample_value("rate_limit_ban_seconds", {"venue": SPOT}) == 300
    fake_clock.advance(299)
    with pytest.raises(BreakerOpenError):
        guarded_call(SPOT, "query", lambda: "ok")
    # even an operator's force-close cannot call through the venue's ban
    breaker.force_close(by="alice", reason="try anyway")
    with pytest.raises(RateLimitedError) as refused:
        guarded_call(SPOT, "query", lambda: "ok", deadline=fake_clock.now + 0.5)
    assert refused.value.reason == "ban"
    breaker.reset(by="alice", reason="ban over")
    fake_clock.advance(1)
    assert guarded_call(SPOT, "query", lambda: "ok") == "ok"


def test_budgets_fall_back_to_a_local_share_while_redis_is_down(
    fake_clock, small_limits, redis_server, settings
):
    window_start(fake_clock)
    budget = budget_for(SPOT)
    redis_server.stop()
    take(budget, weight=2)  # a quarter of 10
    assert budget.degraded is True
    with pytest.raises(RateLimitedError):
        take(budget, deadline=fake_clock.now + 1)
    redis_server.start()
    fake_clock.advance(settings.RELIABILITY_REDIS_RETRY_SECONDS)
    window_start(fake_clock)
    take(budget, weight=10)
    assert budget.degraded is False


def test_an_error_flagged_as_a_ban_opens_the_breaker_whatever_its_status(fake_clock):
    class Banned(FatalError):
        ban = True  # like exchanges.errors.BannedError (BitMEX answers a ban with 403)

    with pytest.raises(Banned):
        guarded_call(BITMEX, "query", lambda: (_ for _ in ()).throw(Banned("banned", status=403)))
    snap = breaker_for(BITMEX).snapshot()
    assert snap["state"] == "open" and snap["last_trigger"] == "ban"
    default = budget_for(BITMEX).config.ban_default_seconds
    assert snap["retry_at"] == pytest.approx(fake_clock.now + default)


def test_a_charge_at_the_end_of_a_window_also_counts_in_the_next_one(fake_clock, small_limits):
    """The venue counts on arrival: a request sent just before the boundary lands after it."""
    window_start(fake_clock)
    fake_clock.advance(10 - small_limits.window_guard_seconds / 2)
    budget = budget_for(SPOT)
    take(budget, weight=6)
    fake_clock.advance(small_limits.window_guard_seconds)  # the next window
    assert budget.snapshot()["budgets"]["weight_1m"]["used"] == 6
    take(budget, weight=4)
    assert fake_clock.sleeps == []
    take(budget, weight=1)
    assert len(fake_clock.sleeps) == 1

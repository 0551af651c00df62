"""Rate limiters and fault rules in isolation, with an explicit clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.emulator import jsonenc
from exchanges.emulator.faults import FaultError, FaultSet
from exchanges.emulator.ratelimit import (
    BinanceLimiter,
    BinanceLimits,
    BitmexLimiter,
    BitmexLimits,
    Window,
)

MINUTE = 60_000


def _binance(limit=3, ban_after=1, ban_seconds=120):
    windows = [Window("REQUEST_WEIGHT", "MINUTE", 1, limit), Window("ORDERS", "SECOND", 10, 2)]
    return BinanceLimiter(
        BinanceLimits(windows, ban_after=ban_after, first_ban_seconds=ban_seconds)
    )


def test_it_bans_a_client_that_ignores_its_429s_for_longer_each_time():
    limiter = _binance()
    now = 10 * MINUTE
    assert [limiter.check_request(1, now).status for _ in range(3)] == [200, 200, 200]
    first = limiter.check_request(1, now)
    assert first.status == 429 and first.retry_after == 60 and first.code == -1003
    banned = limiter.check_request(1, now)
    assert banned.status == 418 and banned.retry_after == 120
    assert limiter.check_request(1, now + 119_000).status == 418
    later = now + 121_000 + MINUTE  # ban over, a fresh minute
    assert limiter.check_request(1, later).status == 200
    for _ in range(3):
        limiter.check_request(1, later)
    second_ban = limiter.check_request(1, later)
    assert second_ban.status == 418 and second_ban.retry_after == 240


def test_it_resets_weight_at_the_minute_boundary_and_reports_it():
    limiter = _binance(limit=100)
    verdict = limiter.check_request(7, 5 * MINUTE + 59_000)
    assert verdict.headers == {"X-MBX-USED-WEIGHT-1M": "7"}
    assert limiter.check_request(1, 6 * MINUTE).headers == {"X-MBX-USED-WEIGHT-1M": "1"}


def test_it_counts_orders_per_window_with_1015():
    limiter = _binance()
    assert limiter.check_order(0).status == 200
    assert limiter.check_order(1).headers["X-MBX-ORDER-COUNT-10S"] == "2"
    over = limiter.check_order(2)
    assert over.status == 429 and over.code == -1015 and "2 orders per 10 SECOND" in over.message
    assert limiter.check_order(10_000).status == 200


def test_it_refills_the_bitmex_bucket_over_time():
    limiter = BitmexLimiter(BitmexLimits(per_minute=2, order_per_second=10))
    assert limiter.check(1000, order_route=False).status == 200
    assert limiter.check(1000, order_route=False).status == 200
    empty = limiter.check(1000, order_route=False)
    assert empty.status == 429 and empty.retry_after == 30
    assert limiter.check(31_000, order_route=False).status == 200


def test_it_fires_a_counted_rule_only_that_many_times():
    faults = FaultSet()
    faults.add({"effect": "error", "method": "POST", "path": "/api/v3/order*", "count": 2})
    picks = [faults.pick("POST", "/api/v3/order") for _ in range(3)]
    assert [p is not None for p in picks] == [True, True, False]
    assert faults.pick("GET", "/api/v3/order") is None


@pytest.mark.parametrize(
    "rule",
    [
        {"effect": "explode"},
        {"effect": "error", "probability": 2},
        {"effect": "error", "status": 99},
        {"effect": "latency", "delay": "soon"},
        {"effect": "error", "colour": "red"},
        [1],
    ],
)
def test_it_refuses_bad_fault_rules(rule):
    with pytest.raises(FaultError):
        FaultSet().add(rule)


def test_it_writes_decimals_as_exact_json_numbers():
    text = jsonenc.dumps(
        {
            "price": Decimal("65000.10"),
            "qty": Decimal("100"),
            "ok": True,
            "none": None,
            "list": [1, "a", 0.5],
        }
    )
    assert text == b'{"price":65000.10,"qty":100,"ok":true,"none":null,"list":[1,"a",0.5]}'
    assert jsonenc.loads(text)["price"] == Decimal("65000.10")

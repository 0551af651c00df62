"""Venue rate limits: headers with real weights, 429 + Retry-After, escalation to a 418 ban."""

from __future__ import annotations


def test_it_counts_request_weight_per_endpoint(binance):
    first = int(binance.public("/api/v3/ping").headers["X-MBX-USED-WEIGHT-1M"])
    after_info = int(binance.public("/api/v3/exchangeInfo").headers["X-MBX-USED-WEIGHT-1M"])
    assert after_info - first in (20, 20 - first)  # exchangeInfo weighs 20 (unless a new minute)


def test_it_escalates_from_429_to_a_418_ban(emulator, binance):
    emulator.set_limits("binance.spot", weight_per_minute=10, ban_after=2, ban_seconds=60)
    statuses = []
    for _ in range(100):
        response = binance.public("/api/v3/ping")
        statuses.append(response.status_code)
        if response.status_code == 418:
            break
    assert 429 in statuses and statuses[-1] == 418
    limited = statuses.index(429)
    assert set(statuses[:limited]) == {200}
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["code"] == -1003 and "banned until" in response.json()["msg"]
    # Banned means banned: even a cheap call and other endpoints of the same API.
    assert binance.public("/api/v3/time").status_code == 418
    # Another API of the venue has its own budget.
    assert binance.public("/fapi/v1/ping").status_code == 200


def test_it_says_429_with_retry_after_and_the_limit_in_the_message(emulator, binance):
    emulator.set_limits("binance.usdm", weight_per_minute=3, ban_after=50)
    responses = [binance.public("/fapi/v1/ping") for _ in range(8)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    assert 1 <= int(limited[0].headers["Retry-After"]) <= 60
    assert "current limit is 3 request weight per 1 MINUTE" in limited[0].json()["msg"]
    info_limits = binance.public("/fapi/v1/exchangeInfo")
    assert info_limits.status_code == 429  # still limited; limits are served in exchangeInfo:


def test_it_serves_configured_limits_in_exchange_info(emulator, binance):
    emulator.set_limits("binance.spot", weight_per_minute=1234, orders_per_10s=7)
    limits = binance.public("/api/v3/exchangeInfo").json()["rateLimits"]
    assert {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 1234,
    } in limits
    assert {
        "rateLimitType": "ORDERS",
        "interval": "SECOND",
        "intervalNum": 10,
        "limit": 7,
    } in limits


def test_it_limits_new_orders_per_window_with_1015(emulator, binance):
    emulator.set_limits("binance.spot", orders_per_10s=2)
    codes = []
    for n in range(6):
        response = binance.signed(
            "POST",
            "/api/v3/order",
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price="60000",
            newClientOrderId=f"r-{n}",
        )
        codes.append(response.json().get("code"))
    assert -1015 in codes


def test_it_limits_bitmex_with_a_token_bucket(emulator, bitmex):
    emulator.set_limits("bitmex", per_minute=5, order_per_second=10)
    responses = [bitmex.request("GET", "/api/v1/order") for _ in range(7)]
    statuses = [r.status_code for r in responses]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    assert int(responses[5].headers["Retry-After"]) >= 1
    assert responses[4].headers["x-ratelimit-remaining"] == "0"
    assert responses[0].headers["x-ratelimit-limit"] == "5"

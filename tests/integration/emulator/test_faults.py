"""Every fault effect, observed by a real httpx client over loopback."""

from __future__ import annotations

import time

import httpx
import pytest


def _spot_order(binance, cid="x-1", **kw):
    return binance.signed(
        "POST",
        "/api/v3/order",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="60000",
        newClientOrderId=cid,
        **kw,
    )


def test_it_delays_answers_with_latency(emulator, binance):
    emulator.add_fault("binance", "latency", path="/api/v3/time", delay=0.3, count=1)
    started = time.monotonic()
    assert binance.public("/api/v3/time").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    binance.public("/api/v3/time")
    assert time.monotonic() - started < 0.3  # count=1: fired once


def test_it_answers_an_error_without_placing(emulator, binance):
    emulator.add_fault(
        "binance",
        "error",
        method="POST",
        path="/api/v3/order",
        status=503,
        body={"code": -1008, "msg": "Server is currently overloaded."},
        count=1,
    )
    response = _spot_order(binance)
    assert response.status_code == 503 and response.json()["code"] == -1008
    assert emulator.orders("binance") == []
    assert _spot_order(binance).status_code == 200


def test_it_answers_an_error_after_accepting_the_order(emulator, binance):
    emulator.add_fault(
        "binance", "error", method="POST", path="/fapi/v1/order", status=503, accept=True, count=1
    )
    response = binance.signed(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="60000",
        newClientOrderId="u-1",
    )
    assert response.status_code == 503
    assert response.json()["msg"].startswith("Unknown error")
    assert emulator.order("u-1")["status"] == "NEW"  # it exists: outcome was unknown


def test_it_creates_the_order_and_answers_after_the_client_gave_up(emulator, binance):
    emulator.add_fault("binance", "timeout", method="POST", path="/api/v3/order", delay=3, count=1)
    binance.http.timeout = httpx.Timeout(0.5)
    with pytest.raises(httpx.ReadTimeout):
        _spot_order(binance)
    assert emulator.order("x-1")["status"] == "NEW"


def test_it_drops_the_connection_before_processing(emulator, binance):
    emulator.add_fault("binance", "drop", method="POST", path="/api/v3/order", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        _spot_order(binance)
    assert emulator.orders("binance") == []


def test_it_drops_the_connection_after_processing(emulator, bitmex):
    emulator.add_fault("bitmex", "drop", method="POST", path="/api/v1/order", accept=True, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        bitmex.request(
            "POST",
            "/api/v1/order",
            {"symbol": "XBTUSD", "orderQty": 100, "price": 60000, "clOrdID": "d-1"},
        )
    assert emulator.order("d-1")["status"] == "New"


def test_it_answers_429_with_retry_after(emulator, bitmex):
    emulator.add_fault("bitmex", "rate_limit", path="/api/v1/order", retry_after=7, count=1)
    response = bitmex.request("GET", "/api/v1/order")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["error"]["name"] == "RateLimitError"


def test_it_answers_bitmex_overload_without_placing(emulator, bitmex):
    emulator.add_fault("bitmex", "error", method="POST", path="/api/v1/order", status=503)
    response = bitmex.request(
        "POST",
        "/api/v1/order",
        {"symbol": "XBTUSD", "orderQty": 100, "price": 60000, "clOrdID": "o-1"},
    )
    assert response.status_code == 503
    assert response.json()["error"]["message"].startswith("The system is currently overloaded")
    assert emulator.orders("bitmex") == []
    cancel = bitmex.request("DELETE", "/api/v1/order/all")  # cancels are not shed
    assert cancel.status_code == 200


def test_it_fires_by_probability_reproducibly_under_a_seed(emulator, binance):
    def pattern():
        emulator.clear_faults()
        emulator.add_fault(
            "binance", "error", path="/api/v3/ping", status=500, probability=0.5, seed=42
        )
        return [binance.public("/api/v3/ping").status_code for _ in range(20)]

    first = pattern()
    assert 0 < first.count(500) < 20
    assert pattern() == first


def test_it_refuses_connections_during_an_outage_and_comes_back(emulator, binance):
    emulator.outage("binance", 30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(emulator.binance_url + "/api/v3/ping", timeout=2)
    assert httpx.get(emulator.bitmex_url + "/api/v1/instrument/active").status_code == 200
    emulator.end_outage("binance")
    assert httpx.get(emulator.binance_url + "/api/v3/ping").status_code == 200


def test_it_ends_a_timed_outage_by_itself(emulator):
    emulator.outage("bitmex", 2)  # long enough to see it down on a loaded machine
    with pytest.raises(httpx.ConnectError):
        httpx.get(emulator.bitmex_url + "/api/v1/instrument/active", timeout=2)
    emulator.wait_until_up("bitmex")
    assert httpx.get(emulator.bitmex_url + "/api/v1/instrument/active").status_code == 200


def test_it_answers_503_in_the_503_outage_mode(emulator):
    emulator.outage("binance", 30, mode="503")
    response = httpx.get(emulator.binance_url + "/api/v3/ping")
    assert response.status_code == 503
    assert httpx.get(emulator.binance_url + "/_emulator/health").status_code == 200
    emulator.end_outage("binance")
    assert httpx.get(emulator.binance_url + "/api/v3/ping").status_code == 200


def test_it_refuses_nonsense_fault_rules(emulator):
    response = httpx.post(emulator.binance_url + "/_emulator/faults", json={"effect": "melt"})
    assert response.status_code == 400


def test_it_resets_a_port_left_down_by_an_outage(emulator):
    emulator.outage("binance", 60)
    emulator.reset()
    assert httpx.get(emulator.binance_url + "/api/v3/ping").status_code == 200


def test_it_skews_the_venue_clock_so_unsynchronised_clients_get_1021(emulator, binance, bitmex):
    import time as clock

    server_time = emulator.set_clock_offset("binance", 30_000)
    assert server_time - clock.time() * 1000 > 29_000
    assert binance.public("/api/v3/time").json()["serverTime"] >= server_time
    stale = binance.signed("GET", "/api/v3/openOrders")
    assert stale.json()["code"] == -1021
    synced = binance.signed("GET", "/api/v3/openOrders", timestamp=server_time + 100)
    assert synced.status_code == 200, synced.text
    emulator.set_clock_offset("bitmex", 120_000)
    expired = bitmex.request("GET", "/api/v1/order")  # expires = now + 60 s by the host clock
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]

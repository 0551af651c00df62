"""The emulator as its own OS process (`manage.py exchange_emulator`), as `make run` runs it."""

from __future__ import annotations

import httpx

from tests.integration.emulator.doc_clients import BinanceClient, BitmexClient


def test_it_runs_as_a_separate_process_with_its_credentials(emulator_process):
    handle = emulator_process()
    binance = BinanceClient(handle.binance_url, handle.binance_api_key, handle.binance_api_secret)
    placed = binance.signed(
        "POST",
        "/fapi/v1/order",
        symbol="ETHUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="3000.00",
        newClientOrderId="p-1",
    )
    assert placed.status_code == 200, placed.text
    assert handle.order("p-1")["status"] == "NEW"
    bitmex = BitmexClient(handle.bitmex_url, handle.bitmex_api_key, handle.bitmex_api_secret)
    assert bitmex.request("GET", "/api/v1/order").status_code == 200
    refused = BinanceClient(handle.binance_url, "demo", "demo").signed("GET", "/api/v3/openOrders")
    assert refused.status_code == 401
    binance.close()
    bitmex.close()
    handle.stop()
    assert handle.process.returncode is not None
    try:
        httpx.get(handle.binance_url + "/api/v3/ping", timeout=1)
        raise AssertionError("the emulator still answers after stop()")
    except httpx.TransportError:
        pass

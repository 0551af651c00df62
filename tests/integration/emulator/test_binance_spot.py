"""Binance spot /api/v3 through a client written from the docs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.emulator.doc_clients import BinanceClient


def _limit(binance, **overrides):
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000",
        "price": "60000.00",
        "newClientOrderId": "cid-1",
    }
    params.update(overrides)
    return binance.signed("POST", "/api/v3/order", **params)


def test_it_serves_ping_time_and_exchange_info(binance):
    assert binance.public("/api/v3/ping").json() == {}
    assert binance.public("/api/v3/time").json()["serverTime"] > 0
    info = binance.public("/api/v3/exchangeInfo").json()
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSDC", "ETHUSDC", "SOLUSDC"} <= set(symbols)
    filters = {f["filterType"]: f for f in symbols["BTCUSDT"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert Decimal(filters["NOTIONAL"]["minNotional"]) == 5
    assert {r["rateLimitType"] for r in info["rateLimits"]} >= {"REQUEST_WEIGHT", "ORDERS"}


def test_it_places_queries_amends_and_cancels_a_resting_limit_order(binance, emulator):
    placed = _limit(binance)
    assert placed.status_code == 200, placed.text
    body = placed.json()
    assert body["status"] == "NEW" and body["clientOrderId"] == "cid-1" and body["fills"] == []
    assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    assert int(placed.headers["X-MBX-USED-WEIGHT-1M"]) >= 1

    queried = binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="cid-1")
    assert queried.json()["orderId"] == body["orderId"]
    assert queried.json()["origQty"] == "0.01000000"

    amended = binance.signed(
        "PUT",
        "/api/v3/order/amend/keepPriority",
        symbol="BTCUSDT",
        origClientOrderId="cid-1",
        newQty="0.005",
        newClientOrderId="cid-1",
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["amendedOrder"]["qty"] == "0.00500000"

    canceled = binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=body["orderId"])
    assert canceled.json()["status"] == "CANCELED"
    assert canceled.json()["origClientOrderId"] == "cid-1"
    assert emulator.order("cid-1")["status"] == "CANCELED"

    again = binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=body["orderId"])
    assert again.status_code == 400
    assert again.json() == {"code": -2011, "msg": "Unknown order sent."}


def test_it_fills_a_market_order_across_levels(binance):
    response = binance.signed(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1"
    )
    body = response.json()
    assert body["status"] == "FILLED"
    prices = [Decimal(f["price"]) for f in body["fills"]]
    assert len(prices) > 1 and prices == sorted(prices)
    assert sum(Decimal(f["qty"]) for f in body["fills"]) == 1
    trades = binance.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT").json()
    assert len(trades) == len(prices) and all(t["isBuyer"] for t in trades)


def test_it_rejects_a_duplicate_open_client_order_id(binance):
    assert _limit(binance).status_code == 200
    duplicate = _limit(binance)
    assert duplicate.status_code == 400
    assert duplicate.json() == {"code": -2010, "msg": "Duplicate order sent."}


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"price": "60000.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "0.000001"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.00001", "price": "1000.00"}, -1013, "Filter failure: NOTIONAL"),
        ({"symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
        (
            {"timeInForce": ""},
            -1102,
            "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
        ),
    ],
)
def test_it_rejects_bad_orders_with_the_venue_codes(binance, overrides, code, message):
    response = _limit(binance, **overrides)
    assert response.status_code == 400
    assert response.json() == {"code": code, "msg": message}


def test_it_rejects_a_limit_maker_that_would_take(binance):
    response = _limit(binance, type="LIMIT_MAKER", timeInForce=None, price="70000.00")
    assert response.json() == {"code": -2010, "msg": "Order would immediately match and take."}


def test_it_expires_ioc_and_fok_remainders(binance):
    ioc = _limit(binance, timeInForce="IOC", quantity="5", price="65010.00").json()
    assert ioc["status"] == "EXPIRED" and Decimal(ioc["executedQty"]) > 0
    fok = _limit(
        binance, timeInForce="FOK", quantity="5", price="65010.00", newClientOrderId="cid-2"
    ).json()
    assert fok["status"] == "EXPIRED" and Decimal(fok["executedQty"]) == 0


def test_it_cancel_replaces_and_reports_a_partial_failure(binance):
    _limit(binance)
    ok = binance.signed(
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.02",
        price="61000",
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrigClientOrderId="cid-1",
        newClientOrderId="cid-2",
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["cancelResult"] == "SUCCESS" and ok.json()["newOrderResult"] == "SUCCESS"
    failed = binance.signed(
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.02",
        price="61000",
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrigClientOrderId="cid-1",
    )
    assert failed.status_code == 400
    assert failed.json()["code"] == -2022
    assert failed.json()["data"]["cancelResponse"]["code"] == -2011
    partial = binance.signed(
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT_MAKER",
        quantity="0.02",
        price="99000",
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrigClientOrderId="cid-2",
    )
    assert partial.status_code == 409
    assert partial.json()["data"]["cancelResult"] == "SUCCESS"
    assert partial.json()["data"]["newOrderResult"] == "FAILURE"


def test_it_lists_open_and_all_orders_within_the_24_hour_window(binance):
    _limit(binance)
    _limit(binance, newClientOrderId="cid-2", price="59000.00")
    assert len(binance.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT").json()) == 2
    every = binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT").json()
    assert [o["clientOrderId"] for o in every] == ["cid-1", "cid-2"]
    too_wide = binance.signed(
        "GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=0, endTime=25 * 3600 * 1000
    )
    assert too_wide.json()["code"] == -1127


def test_it_refuses_bad_credentials_signatures_and_stale_timestamps(emulator, binance):
    wrong_key = BinanceClient(emulator.binance_url, "nope", emulator.binance_api_secret)
    response = wrong_key.signed("GET", "/api/v3/openOrders")
    assert response.status_code == 401 and response.json()["code"] == -2015
    bad_signature = binance.signed("GET", "/api/v3/openOrders", secret="wrong")
    assert bad_signature.json() == {
        "code": -1022,
        "msg": "Signature for this request is not valid.",
    }
    stale = binance.signed("GET", "/api/v3/openOrders", timestamp=1)
    assert stale.json()["code"] == -1021
    ahead = binance.signed("GET", "/api/v3/openOrders", timestamp=2**42)
    assert ahead.json()["code"] == -1021
    wrong_key.close()


def test_it_accepts_parameters_in_the_body_and_signature_over_query_plus_body(binance):
    response = binance.signed(
        "POST",
        "/api/v3/order",
        in_body=False,
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="60000",
        newClientOrderId="q-1",
    )
    assert response.status_code == 200, response.text


def test_it_serves_depth_and_tickers(binance):
    depth = binance.public("/api/v3/depth", symbol="BTCUSDT", limit=5).json()
    assert len(depth["bids"]) == 5 and len(depth["asks"]) == 5
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    book = binance.public("/api/v3/ticker/bookTicker", symbol="BTCUSDT").json()
    assert book["bidPrice"] == depth["bids"][0][0]
    price = binance.public("/api/v3/ticker/price", symbol="BTCUSDT").json()
    assert Decimal(book["bidPrice"]) < Decimal(price["price"]) < Decimal(book["askPrice"])
    assert len(binance.public("/api/v3/ticker/price").json()) == 6

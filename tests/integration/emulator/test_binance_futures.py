"""Binance USDⓈ-M /fapi/v1 and COIN-M /dapi/v1 through a client written from the docs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest


def _order(binance, prefix="/fapi/v1", **overrides):
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.010",
        "price": "70000.0",
        "newClientOrderId": "f-1",
    }
    params.update(overrides)
    return binance.signed("POST", f"{prefix}/order", **params)


def test_it_lists_perpetuals_and_current_and_next_quarter(binance):
    info = binance.public("/fapi/v1/exchangeInfo").json()
    by_symbol = {s["symbol"]: s for s in info["symbols"]}
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSDC", "ETHUSDC", "SOLUSDC"} <= set(by_symbol)
    quarters = sorted(s for s in by_symbol if s.startswith("BTCUSDT_"))
    assert len(quarters) == 2
    current = by_symbol[quarters[0]]
    assert current["contractType"] == "CURRENT_QUARTER"
    delivery = datetime.fromtimestamp(current["deliveryDate"] / 1000, UTC)
    assert delivery.weekday() == 4 and delivery.hour == 8 and delivery.month in (3, 6, 9, 12)
    assert quarters[0] == f"BTCUSDT_{delivery:%y%m%d}"
    notional = {f["filterType"]: f for f in by_symbol["BTCUSDT"]["filters"]}["MIN_NOTIONAL"]
    assert Decimal(notional["notional"]) == 100

    coin = binance.public("/dapi/v1/exchangeInfo").json()
    coin_symbols = {s["symbol"]: s for s in coin["symbols"]}
    assert {"BTCUSD_PERP", "ETHUSD_PERP", "SOLUSD_PERP"} <= set(coin_symbols)
    assert coin_symbols["BTCUSD_PERP"]["contractSize"] == 100
    assert coin_symbols["BTCUSD_PERP"]["contractStatus"] == "TRADING"


def test_it_places_modifies_queries_and_cancels_on_usdm(binance, emulator):
    placed = _order(binance)
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "NEW"
    assert "X-MBX-ORDER-COUNT-1M" in placed.headers
    modified = binance.signed(
        "PUT",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="SELL",
        origClientOrderId="f-1",
        quantity="0.020",
        price="70001.0",
    )
    assert modified.status_code == 200, modified.text
    assert modified.json()["origQty"] == "0.020" and modified.json()["price"] == "70001.0"
    unchanged = binance.signed(
        "PUT",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="SELL",
        origClientOrderId="f-1",
        quantity="0.020",
        price="70001.0",
    )
    assert unchanged.json() == {"code": -5027, "msg": "No need to modify the order."}
    queried = binance.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="f-1")
    assert queried.json()["cumQuote"] is not None and "time" in queried.json()
    canceled = binance.signed("DELETE", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="f-1")
    assert canceled.json()["status"] == "CANCELED"
    missing = binance.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="nope")
    assert missing.json() == {"code": -2013, "msg": "Order does not exist."}
    assert emulator.order("f-1", "binance.usdm")["status"] == "CANCELED"


def test_it_acks_before_matching_and_reports_results_on_request(binance):
    ack = _order(binance, side="BUY", type="MARKET", timeInForce=None, price=None, quantity="0.5")
    assert ack.json()["status"] == "NEW" and ack.json()["executedQty"] == "0.000"
    result = binance.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="f-1")
    assert result.json()["status"] == "FILLED"
    trades = binance.signed("GET", "/fapi/v1/userTrades", symbol="BTCUSDT").json()
    assert sum(Decimal(t["qty"]) for t in trades) == Decimal("0.5")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"price": "70000.05"}, -1111),
        ({"price": "70000.3", "symbol": "BTCUSDC"}, None),
        ({"quantity": "0.0005"}, -1111),
        ({"quantity": "0.001", "price": "1000.0"}, -4164),
        ({"timeInForce": "GTX", "side": "BUY"}, -5022),
        ({"timeInForce": "FOK", "side": "BUY", "quantity": "500"}, -5021),
    ],
)
def test_it_rejects_with_the_futures_codes(binance, overrides, code):
    response = _order(binance, **overrides)
    if code is None:
        assert response.status_code == 200, response.text
    else:
        assert response.json()["code"] == code


def test_it_rejects_a_duplicate_client_order_id_with_4116(binance):
    _order(binance)
    assert _order(binance).json() == {"code": -4116, "msg": "clientOrderId is duplicated"}


def test_it_trades_coin_m_contracts(binance, emulator):
    placed = _order(
        binance,
        "/dapi/v1",
        symbol="BTCUSD_PERP",
        side="BUY",
        quantity="3",
        price="60000.0",
        newOrderRespType="RESULT",
    )
    body = placed.json()
    assert placed.status_code == 200, placed.text
    assert body["pair"] == "BTCUSD" and "cumBase" in body and "cumQuote" not in body
    modified = binance.signed(
        "PUT",
        "/dapi/v1/order",
        symbol="BTCUSD_PERP",
        side="BUY",
        origClientOrderId="f-1",
        price="60000.5",
    )
    assert modified.json()["price"] == "60000.5"
    emulator.fill("f-1", venue_api="binance.coinm", quantity="1")
    partially = binance.signed(
        "GET", "/dapi/v1/order", symbol="BTCUSD_PERP", orderId=body["orderId"]
    )
    assert partially.json()["status"] == "PARTIALLY_FILLED"
    assert Decimal(partially.json()["cumBase"]) > 0
    all_orders = binance.signed("GET", "/dapi/v1/allOrders", pair="BTCUSD").json()
    assert [o["orderId"] for o in all_orders] == [body["orderId"]]


def test_it_cancels_everything_when_the_countdown_runs_out(binance, emulator):
    _order(binance)
    armed = binance.signed(
        "POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime=200
    )
    assert armed.json() == {"symbol": "BTCUSDT", "countdownTime": "200"}
    import time

    deadline = time.monotonic() + 10
    while emulator.order("f-1")["status"] != "CANCELED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.order("f-1")["status"] == "CANCELED"


def test_it_serves_futures_market_data(binance):
    depth = binance.public("/fapi/v1/depth", symbol="BTCUSDT", limit=5).json()
    assert len(depth["asks"]) == 5 and {"E", "T", "lastUpdateId"} <= set(depth)
    ticker = binance.public("/dapi/v1/ticker/bookTicker", symbol="BTCUSD_PERP").json()
    assert ticker[0]["pair"] == "BTCUSD"
    price = binance.public("/fapi/v1/ticker/price", symbol="ETHUSDT").json()
    assert Decimal(price["price"]) == 3500


def test_it_refuses_history_windows_over_seven_days(binance):
    week = 7 * 86_400_000
    too_wide = binance.signed(
        "GET", "/fapi/v1/allOrders", symbol="BTCUSDT", startTime=0, endTime=week + 1
    )
    assert too_wide.json()["code"] == -1127
    _order(binance)
    recent = binance.signed("GET", "/fapi/v1/allOrders", symbol="BTCUSDT").json()
    assert [o["clientOrderId"] for o in recent] == ["f-1"]
    old = binance.signed("GET", "/fapi/v1/allOrders", symbol="BTCUSDT", startTime=0, endTime=week)
    assert old.json() == []

"""The control API: ground truth, price moves, fills on demand, reset."""

from __future__ import annotations

from decimal import Decimal

import httpx


def _rest(binance, cid="c-1", price="64000", side="BUY", symbol="BTCUSDT", qty="0.01"):
    response = binance.signed(
        "POST",
        "/api/v3/order",
        symbol=symbol,
        side=side,
        type="LIMIT",
        timeInForce="GTC",
        quantity=qty,
        price=price,
        newClientOrderId=cid,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_it_fills_resting_orders_when_the_price_moves_through_them(emulator, binance):
    _rest(binance)
    moved = emulator.set_price("BTCUSDT", "63000", "binance.spot")
    assert Decimal(moved["ask"]) < Decimal("64000")
    assert [f["client_order_id"] for f in moved["fills"]] == ["c-1"]
    order = binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="c-1")
    assert order.json()["status"] == "FILLED"
    assert order.json()["cummulativeQuoteQty"] == "640.00000000"  # filled at its own price
    trades = binance.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT").json()
    assert trades[0]["isMaker"] is True
    assert emulator.price("BTCUSDT", "binance.spot")["price"] == "63000"


def test_it_fills_part_of_a_resting_order_on_demand(emulator, binance):
    placed = _rest(binance)
    emulator.fill("c-1", quantity="0.004", venue_api="binance.spot")
    order = binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"])
    assert order.json()["status"] == "PARTIALLY_FILLED"
    assert order.json()["executedQty"] == "0.00400000"
    canceled = binance.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]
    ).json()
    assert canceled["status"] == "CANCELED" and canceled["executedQty"] == "0.00400000"


def test_it_lets_a_fill_beat_a_cancel(emulator, binance):
    placed = _rest(binance)
    emulator.fill("c-1")  # the fill reaches the engine before the cancel does
    late = binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"])
    assert late.json() == {"code": -2011, "msg": "Unknown order sent."}
    assert emulator.order("c-1")["status"] == "FILLED"


def test_it_fills_bitmex_and_futures_orders_by_venue_id(emulator, binance, bitmex):
    order = bitmex.request(
        "POST",
        "/api/v1/order",
        {"symbol": "XBTUSD", "orderQty": 300, "price": 60000, "clOrdID": "x-1"},
    ).json()
    filled = emulator.fill(order_id=order["orderID"], quantity=100, venue_api="bitmex")
    assert filled["order"]["status"] == "PartiallyFilled"
    assert filled["order"]["filled_quantity"] == "100"
    future = binance.signed(
        "POST",
        "/fapi/v1/order",
        symbol="ETHUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.100",
        price="4000.00",
    ).json()
    emulator.fill(order_id=future["orderId"], venue_api="binance.usdm", price="4000.50")
    trades = binance.signed("GET", "/fapi/v1/userTrades", symbol="ETHUSDT").json()
    assert trades[0]["price"] == "4000.50" and trades[0]["maker"] is True


def test_it_reports_every_order_as_ground_truth_with_filters(emulator, binance, bitmex):
    _rest(binance, "c-1")
    _rest(binance, "c-2", price="64001")
    binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="c-2")
    bitmex.request(
        "POST",
        "/api/v1/order",
        {"symbol": "XBTUSD", "orderQty": 100, "price": 60000, "clOrdID": "x-1"},
    )
    everything = emulator.orders()
    assert {o["client_order_id"] for o in everything} == {"c-1", "c-2", "x-1"}
    assert {o["venue_api"] for o in everything} == {"binance.spot", "bitmex"}
    assert [o["client_order_id"] for o in emulator.orders("binance", open=True)] == ["c-1"]
    row = emulator.order("c-1")
    assert row["quantity"] == "0.01" and row["filled_quantity"] == "0" and row["open"] is True
    assert emulator.orders("binance.usdm") == []
    emulator.reset()
    assert emulator.orders() == []


def test_it_explains_bad_control_requests(emulator, binance):
    base = emulator.binance_url + "/_emulator/"
    assert httpx.post(base + "fill", json={"client_order_id": "none"}).status_code == 404
    placed = _rest(binance)
    binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"])
    closed = httpx.post(base + "fill", json={"client_order_id": "c-1"})
    assert closed.status_code == 409 and "CANCELED" in closed.json()["error"]
    assert httpx.post(base + "price", json={"symbol": "NOPE", "price": "1"}).status_code == 404
    assert httpx.post(base + "price", json={"symbol": "BTCUSDT", "price": "-1"}).status_code == 400
    assert httpx.post(base + "limits", json={"venue_api": "bitmex"}).status_code == 404
    assert httpx.post(base + "outage", json={"seconds": 0}).status_code == 400
    assert httpx.post(base + "faults", content=b"[1]").status_code == 400

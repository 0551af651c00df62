"""BitMEX /api/v1 through a client written from the docs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from tests.integration.emulator.doc_clients import BitmexClient


def _place(bitmex, **overrides):
    body = {"symbol": "XBTUSD", "side": "Buy", "orderQty": 100, "price": 60000.5, "clOrdID": "b-1"}
    body.update(overrides)
    return bitmex.request("POST", "/api/v1/order", body)


def test_it_lists_instruments_with_trading_rules(bitmex):
    active = bitmex.request("GET", "/api/v1/instrument/active", signed=False).json()
    by_symbol = {i["symbol"]: i for i in active}
    assert {"XBTUSD", "ETHUSD", "SOLUSD", "XBTUSDT", "ETHUSDT", "SOLUSDT"} <= set(by_symbol)
    xbt = by_symbol["XBTUSD"]
    assert xbt["isInverse"] is True and xbt["lotSize"] == 100 and xbt["typ"] == "FFWCSX"
    futures = sorted(
        s for s in by_symbol if s.startswith("XBT") and by_symbol[s]["typ"] == "FFCCSX"
    )
    assert len(futures) == 2
    expiry = datetime.fromisoformat(by_symbol[futures[0]]["expiry"].replace("Z", "+00:00"))
    assert expiry.weekday() == 4 and expiry.hour == 12 and expiry.astimezone(UTC).month % 3 == 0
    assert futures[0][3] == "FGHJKMNQUVXZ"[expiry.month - 1]


def test_it_places_amends_queries_and_cancels(bitmex, emulator):
    placed = _place(bitmex)
    assert placed.status_code == 200, placed.text
    order = placed.json()
    assert order["ordStatus"] == "New" and order["leavesQty"] == 100
    assert int(placed.headers["x-ratelimit-remaining"]) < 120
    assert "x-ratelimit-remaining-1s" in placed.headers
    amended = bitmex.request("PUT", "/api/v1/order", {"origClOrdID": "b-1", "price": 60001})
    assert amended.json()["price"] == 60001
    found = bitmex.request(
        "GET", "/api/v1/order", query={"filter": json.dumps({"clOrdID": "b-1"})}
    ).json()
    assert [o["orderID"] for o in found] == [order["orderID"]]
    canceled = bitmex.request("DELETE", "/api/v1/order", {"clOrdID": "b-1"}).json()
    assert canceled[0]["ordStatus"] == "Canceled"
    again = bitmex.request("DELETE", "/api/v1/order", {"orderID": order["orderID"]}).json()
    assert again[0]["error"] == "Unable to cancel order due to existing state: Canceled"
    assert emulator.order("b-1", "bitmex")["status"] == "Canceled"


def test_it_rejects_a_duplicate_clordid(bitmex):
    _place(bitmex)
    duplicate = _place(bitmex)
    assert duplicate.status_code == 400
    assert duplicate.json() == {"error": {"message": "Duplicate clOrdID", "name": "HTTPError"}}


def test_it_cancels_post_only_orders_that_would_take(bitmex):
    order = _place(bitmex, price=70000, execInst="ParticipateDoNotInitiate").json()
    assert order["ordStatus"] == "Canceled"
    assert "ParticipateDoNotInitiate" in order["text"]


def test_it_fills_market_orders_and_reports_executions(bitmex):
    order = _place(bitmex, ordType="Market", price=None, orderQty=50000, clOrdID="m-1").json()
    assert order["ordStatus"] == "Filled" and order["cumQty"] == 50000
    trades = bitmex.request(
        "GET", "/api/v1/execution/tradeHistory", query={"symbol": "XBTUSD"}
    ).json()
    assert sum(t["lastQty"] for t in trades) == 50000 and len(trades) > 1
    position = bitmex.request("GET", "/api/v1/position").json()
    assert position[0]["currentQty"] == 50000


def test_it_refuses_bad_signatures_and_expired_requests(emulator, bitmex):
    assert bitmex.request("GET", "/api/v1/order", secret="wrong").status_code == 401
    expired = bitmex.request("GET", "/api/v1/order", expires=1)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    assert bitmex.request("GET", "/api/v1/order", signed=False).status_code == 401
    other = BitmexClient(emulator.bitmex_url, "unknown", "secret")
    assert other.request("GET", "/api/v1/order").json()["error"]["message"] == "Invalid API Key."
    other.close()


def test_it_rejects_quantities_off_the_lot_size_and_prices_off_the_tick(bitmex):
    assert "orderQty" in _place(bitmex, orderQty=150).json()["error"]["message"]
    assert "price" in _place(bitmex, price=60000.55).json()["error"]["message"]


def test_it_serves_the_l2_book_and_quotes(bitmex):
    book = bitmex.request(
        "GET", "/api/v1/orderBook/L2", query={"symbol": "XBTUSD", "depth": 3}, signed=False
    ).json()
    sells = [r for r in book if r["side"] == "Sell"]
    buys = [r for r in book if r["side"] == "Buy"]
    assert len(sells) == 3 and len(buys) == 3
    assert Decimal(str(min(r["price"] for r in sells))) > Decimal(
        str(max(r["price"] for r in buys))
    )
    quote = bitmex.request("GET", "/api/v1/quote", query={"symbol": "XBTUSD"}, signed=False).json()
    assert quote[0]["bidPrice"] == max(r["price"] for r in buys)


def test_it_amends_by_leaves_quantity_and_refuses_amending_a_closed_order(bitmex):
    _place(bitmex, orderQty=300)
    amended = bitmex.request(
        "PUT", "/api/v1/order", {"origClOrdID": "b-1", "leavesQty": 100, "clOrdID": "b-2"}
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["orderQty"] == 100 and amended.json()["clOrdID"] == "b-2"
    unchanged = bitmex.request("PUT", "/api/v1/order", {"origClOrdID": "b-2", "orderQty": 100})
    assert unchanged.json()["error"]["message"].startswith("Invalid amend")
    bitmex.request("DELETE", "/api/v1/order", {"clOrdID": "b-2"})
    closed = bitmex.request("PUT", "/api/v1/order", {"origClOrdID": "b-2", "price": 60001})
    assert closed.status_code == 400 and closed.json()["error"]["message"] == "Invalid ordStatus"
    missing = bitmex.request("PUT", "/api/v1/order", {"orderID": "nope", "price": 60001})
    assert missing.json()["error"]["message"] == "Invalid orderID"


def test_it_pages_order_history_by_count_start_reverse_and_time(bitmex):
    for n in range(5):
        _place(bitmex, clOrdID=f"h-{n}", price=60000 + n)
    page = bitmex.request("GET", "/api/v1/order", query={"count": 2, "start": 1}).json()
    assert [o["clOrdID"] for o in page] == ["h-1", "h-2"]
    newest = bitmex.request("GET", "/api/v1/order", query={"count": 1, "reverse": "true"}).json()
    assert newest[0]["clOrdID"] == "h-4"
    open_only = bitmex.request("GET", "/api/v1/order", query={"filter": json.dumps({"open": True})})
    assert len(open_only.json()) == 5
    future = bitmex.request("GET", "/api/v1/order", query={"startTime": "2999-01-01T00:00:00Z"})
    assert future.json() == []


def test_it_cancels_everything_after_the_dead_mans_switch_timeout(bitmex, emulator):
    import time

    _place(bitmex)
    armed = bitmex.request("POST", "/api/v1/order/cancelAllAfter", {"timeout": 200}).json()
    assert armed["cancelTime"] > armed["now"]
    deadline = time.monotonic() + 10
    while emulator.order("b-1", "bitmex")["open"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.order("b-1", "bitmex")["status"] == "Canceled"
    executions = bitmex.request("GET", "/api/v1/execution").json()
    assert [e["execType"] for e in executions] == ["New", "Canceled"]

"""Orders posted through the REST API reach the emulator through a real Celery worker, and the
platform's state matches the venue's ground truth (`GET /_emulator/orders`).

One worker process serves the module; each test posts its orders at once and polls until they
settle, so the whole matrix (every market type, BTC/ETH/SOL, limit and market) takes seconds.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from orders.models import Fill, Order, OrderAttempt, OrderEvent
from tests.fixtures.execution import EXECUTION_TEST_ENV, instrument, metric, order_body, wait_for
from tests.fixtures.processes import GunicornServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VENUE_STATUS = {  # platform state -> the venue's own words for it
    "NEW": {"NEW", "New"},
    "FILLED": {"FILLED", "Filled"},
    "CANCELED": {"CANCELED", "Canceled"},
}


@pytest.fixture
def worker_env_extra():
    return EXECUTION_TEST_ENV


def _matrix(venue_instruments) -> list:
    """Every listed market type x BTC/ETH/SOL, one instrument each."""
    chosen = {}
    for rows in venue_instruments.values():
        for row in rows:
            kind = (row.venue_api, row.market_type, row.expiry is not None, row.settle, row.base)
            if row.base in ("BTC", "ETH", "SOL"):
                chosen.setdefault(kind, row)
    return list(chosen.values())


def _assert_matches_venue(order: dict, truth: dict) -> None:
    assert truth["status"] in VENUE_STATUS[order["state"]], (order, truth)
    assert str(truth["order_id"]) == order["venue_order_id"], (order, truth)
    # Units may differ (BitMEX counts contracts): compare the filled share of the order.
    venue_share = Decimal(truth["filled_quantity"]) / Decimal(truth["quantity"])
    platform_share = Decimal(order["filled_quantity"]) / Decimal(order["quantity"])
    assert venue_share == platform_share, (order, truth)


def test_limit_and_market_orders_on_every_market_type_reach_the_venue(
    trader, venue_instruments, worker, emulator
):
    rows = _matrix(venue_instruments)
    market_types = {(r.venue_api, r.market_type, r.expiry is not None) for r in rows}
    assert {("binance.spot", "spot", False), ("binance.usdm", "linear", False)} <= market_types
    assert {("binance.coinm", "inverse", False), ("bitmex", "inverse", False)} <= market_types
    assert {("binance.usdm", "linear", True), ("binance.coinm", "inverse", True)} <= market_types
    assert {r.base for r in rows} == {"BTC", "ETH", "SOL"}

    placed = []
    for row in rows:
        placed.append((row, "limit", trader.place(row, type="limit")))
        placed.append((row, "market", trader.place(row, type="market")))

    for row, kind, order in placed:
        expected = "NEW" if kind == "limit" else "FILLED"
        settled = trader.wait(order["id"], {expected}, worker=worker)
        truth = emulator.order(settled["client_order_id"], row.venue_api)
        assert truth is not None, f"{row} {kind}: not at the venue"
        _assert_matches_venue(settled, truth)
        assert len(emulator.orders(row.venue_api, client_order_id=settled["client_order_id"])) == 1
        if kind == "market":
            fills = Fill.objects.filter(order_id=order["id"])
            assert fills.exists(), f"{row}: market order without fills"
            assert sum(f.quantity for f in fills) == Decimal(settled["filled_quantity"])


def test_every_send_is_written_ahead_and_completed(trader, venue_instruments, worker, emulator):
    labels = {"venue": "binance.usdm"}
    submitted = metric("orders_submitted_total", order_type="limit", **labels)
    latencies = metric("order_end_to_end_seconds_count", **labels)

    order = trader.place(instrument("binance.usdm", "BTC/USDT:USDT"), type="limit")
    trader.wait(order["id"], {"NEW"}, worker=worker)

    attempt = OrderAttempt.objects.get(order_id=order["id"])
    assert attempt.operation == "submit" and attempt.outcome == "ok"
    assert attempt.client_order_id == order["client_order_id"]
    assert attempt.endpoint == "POST /fapi/v1/order"
    assert attempt.http_status == 200 and attempt.duration_ms is not None
    assert attempt.finished_at >= attempt.started_at
    assert attempt.correlation_id
    assert attempt.response["venue_order_id"] == trader.get(order["id"])["venue_order_id"]
    assert metric("orders_submitted_total", order_type="limit", **labels) == submitted + 1
    assert metric("order_end_to_end_seconds_count", **labels) == latencies + 1


@pytest.mark.parametrize(
    "venue_api,symbol",
    [
        ("binance.spot", "BTC/USDT"),
        ("binance.usdm", "ETH/USDT:USDT"),
        ("binance.coinm", "BTC/USD:BTC"),
        ("bitmex", "BTC/USD:BTC"),
    ],
)
def test_an_order_is_amended_then_cancelled_on_each_venue_api(
    trader, venue_instruments, worker, emulator, venue_api, symbol
):
    row = instrument(venue_api, symbol)
    order = trader.wait(trader.place(row, type="limit")["id"], {"NEW"}, worker=worker)
    new_price = Decimal(order["price"]) - 10 * row.tick_size
    new_quantity = Decimal(order["quantity"]) * 2

    trader.amend(order["id"], price=format(new_price, "f"), quantity=format(new_quantity, "f"))
    amended = trader.wait(order["id"], {"NEW"}, worker=worker)
    assert Decimal(amended["price"]) == new_price, trader.events(order["id"])
    assert Decimal(amended["quantity"]) == new_quantity
    truth = emulator.order(amended["client_order_id"], venue_api)
    assert Decimal(truth["price"]) == new_price
    assert Decimal(truth["quantity"]) == new_quantity
    assert truth["open"]

    trader.cancel(order["id"])
    cancelled = trader.wait(order["id"], {"CANCELED"}, worker=worker)
    assert cancelled["cancel_confirm_source"] == "ack"
    assert cancelled["cancel_confirmed_at"] and cancelled["cancel_latency_ms"] is not None
    truth = emulator.order(cancelled["client_order_id"], venue_api)
    assert truth["status"] in VENUE_STATUS["CANCELED"] and not truth["open"]
    # Exactly one live venue order per platform order, whatever the amend did.
    assert not emulator.orders(venue_api, open=True)


REFUSED_CANCELS = {  # venue API -> (symbol, the cancel endpoint, the venue's refusal body)
    "binance.usdm": (
        "BTC/USDT:USDT",
        "/fapi/v1/order",
        {"code": -2011, "msg": "Cancel rejected: order is locked by the risk engine."},
    ),
    "bitmex": (
        "BTC/USD:BTC",
        "/api/v1/order",
        {
            "error": {
                "message": "Cancel rejected: order is locked by the risk engine.",
                "name": "ValidationError",
            }
        },
    ),
}
REFUSAL = "Cancel rejected: order is locked by the risk engine."


@pytest.mark.parametrize("venue_api", sorted(REFUSED_CANCELS))
def test_a_refused_cancel_is_in_the_timeline_with_the_venues_reason(
    trader, venue_instruments, worker, emulator, venue_api
):
    symbol, path, body = REFUSED_CANCELS[venue_api]
    order = trader.place(instrument(venue_api, symbol), type="limit")
    trader.wait(order["id"], {"NEW"}, worker=worker)
    venue = venue_api.split(".")[0]
    emulator.add_fault(venue, "error", method="DELETE", path=path, status=400, body=body, count=1)

    trader.cancel(order["id"])

    def refused():
        events = trader.events(order["id"])
        return events if any(REFUSAL in (e["reason"] or "") for e in events) else None

    events = wait_for(refused, what="the refused cancel in the order's events")
    current = trader.get(order["id"])
    assert current["state"] == "NEW", events
    assert current["cancel_requested_at"] is None  # the cancel is over: refused
    states = [(e["from_state"], e["to_state"]) for e in events]
    assert ("NEW", "PENDING_CANCEL") in states
    refusal = next(e for e in events if REFUSAL in (e["reason"] or ""))
    assert refusal["reason"].startswith(f"cancel refused by {venue_api}")
    assert refusal["actor"] == "worker"
    # the venue still has it resting
    assert emulator.order(current["client_order_id"], venue_api)["open"]


def test_one_request_id_follows_an_order_from_the_post_to_the_venue_and_its_history(
    make_key, venue_instruments, worker, emulator, tmp_path
):
    """Web (gunicorn, JSON logs) -> Celery task -> venue call -> OrderEvent / OrderAttempt rows
    and the worker's JSON log lines: all under the X-Request-ID the client sent."""
    web = GunicornServer(tmp_path / "web", workers=1)
    try:
        _key, raw = make_key(account="correlation")
        cid = f"e2e-{uuid.uuid4().hex[:16]}"
        body = order_body(instrument("binance.usdm", "BTC/USDT:USDT"), emulator, type="limit")
        response = httpx.post(
            web.url + "/api/v1/orders",
            json=body,
            headers={"Authorization": f"Bearer {raw}", "X-Request-ID": cid},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        assert response.headers["X-Request-ID"] == cid
        order_id = response.json()["id"]
        web.wait_for_log(
            lambda line: line.get("event") == "http_request"
            and line.get("path") == "/api/v1/orders"
            and line.get("correlation_id") == cid,
        )
    finally:
        web.stop()

    order = wait_for(
        lambda: Order.objects.filter(pk=order_id, state="NEW").first(),
        what="the order acknowledged by the venue",
    )
    # the venue got it (ground truth), and the platform's call record carries the id
    assert emulator.order(order.client_order_id, "binance.usdm")["open"]
    (attempt,) = OrderAttempt.objects.filter(order_id=order_id)
    assert attempt.correlation_id == cid and attempt.endpoint == "POST /fapi/v1/order"
    # every event: the API's PENDING_NEW and the worker's NEW
    events = list(OrderEvent.objects.filter(order_id=order_id).order_by("sequence"))
    assert [(e.actor, e.to_state) for e in events] == [("api", "PENDING_NEW"), ("worker", "NEW")]
    assert {e.correlation_id for e in events} == {cid}
    # the worker's JSON log lines: the submit task and its venue call under the same id
    call = worker.wait_for_log(
        lambda line: line.get("event") == "venue_call"
        and line.get("client_order_id") == order.client_order_id
    )
    assert call["correlation_id"] == cid and call["endpoint"] == "/fapi/v1/order"
    task_lines = [line for line in worker.log_lines() if line.get("task_id") == call["task_id"]]
    assert any("succeeded" in line.get("event", "") for line in task_lines)
    assert {line["correlation_id"] for line in task_lines} == {cid}

"""Exactly once, reconciled: failure scenarios against the emulator over HTTP, with a real
Celery worker process, PostgreSQL and Redis. The emulator's `GET /_emulator/orders` is the
truth: after each scenario there are 0 duplicates (one venue order per client order id) and 0
lost orders (every accepted order is at the venue, or provably never sent and FAILED/CANCELED).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from exchanges.types import OrderType, PlaceOrder, Side, TimeInForce
from monitoring.redis import state_client
from orders.models import Order, OrderAttempt, OrderEvent
from tests.fixtures.execution import (
    EXECUTION_TEST_ENV,
    instrument,
    metric,
    order_body,
    wait_for,
)
from tests.worker_app import PAUSE_AFTER_WRITE_AHEAD_KEY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USDM = "binance.usdm"
SYMBOL = "BTC/USDT:USDT"
ORDER_PATH = "/fapi/v1/order"


@pytest.fixture
def worker_env_extra():
    return EXECUTION_TEST_ENV


def _venue_orders(emulator, order: dict, venue_api: str = USDM) -> list[dict]:
    return emulator.orders(venue_api, client_order_id=order["client_order_id"])


def _exactly_one_at_venue(emulator, order: dict, venue_api: str = USDM) -> dict:
    rows = _venue_orders(emulator, order, venue_api)
    assert len(rows) == 1, f"{len(rows)} venue orders for {order['client_order_id']}"
    return rows[0]


def _attempts(order_id: int) -> list[OrderAttempt]:
    return list(OrderAttempt.objects.filter(order_id=order_id).order_by("started_at", "id"))


def _reasons(order_id: int) -> list[str]:
    return list(
        OrderEvent.objects.filter(order_id=order_id)
        .order_by("sequence")
        .values_list("reason", flat=True)
    )


# --- outcome unknown -----------------------------------------------------------------------------


def test_a_timeout_after_accept_leaves_exactly_one_venue_order_and_adopts_it(
    trader, venue_instruments, worker, emulator
):
    emulator.add_fault("binance", "timeout", method="POST", path=ORDER_PATH, count=1, delay=30)
    corrections = metric("reconciliation_corrections_total", venue=USDM, kind="state")

    order = trader.place(instrument(USDM, SYMBOL), type="limit")
    settled = trader.wait(order["id"], {"NEW"}, worker=worker)

    truth = _exactly_one_at_venue(emulator, order)
    assert settled["venue_order_id"] == str(truth["order_id"])
    outcomes = [a.outcome for a in _attempts(order["id"])]
    assert outcomes == ["outcome_unknown"], outcomes  # resolved by query, never resent
    states = list(
        OrderEvent.objects.filter(order_id=order["id"])
        .order_by("sequence")
        .values_list("to_state", "actor")
    )
    assert ("SUBMIT_UNKNOWN", "worker") in states and ("NEW", "reconciler") in states
    assert metric("reconciliation_corrections_total", venue=USDM, kind="state") == corrections + 1


def test_a_5xx_before_the_engine_is_retried_with_the_same_client_id(
    trader, venue_instruments, worker, emulator
):
    unavailable = {
        "code": -1001,
        "msg": "Service Unavailable.",
    }  # futures: did not reach the engine
    emulator.add_fault(
        "binance", "error", method="POST", path=ORDER_PATH, count=2, status=503, body=unavailable
    )

    order = trader.place(instrument(USDM, SYMBOL), type="limit")
    trader.wait(order["id"], {"NEW"}, worker=worker)

    _exactly_one_at_venue(emulator, order)
    attempts = _attempts(order["id"])
    assert {a.client_order_id for a in attempts} == {order["client_order_id"]}
    assert attempts[-1].outcome == "ok" and len(attempts) >= 3


def test_an_unknown_outcome_that_never_reached_the_venue_is_resent_with_the_same_id(
    trader, venue_instruments, worker, emulator
):
    # 5xx without processing: the platform cannot know; the resolver proves it absent.
    emulator.add_fault("binance", "drop", method="POST", path=ORDER_PATH, count=1)

    order = trader.place(instrument(USDM, SYMBOL), type="limit")
    trader.wait(order["id"], {"NEW"}, worker=worker)

    _exactly_one_at_venue(emulator, order)
    assert any("proven absent" in reason for reason in _reasons(order["id"]))
    assert {a.client_order_id for a in _attempts(order["id"])} == {order["client_order_id"]}


def test_a_duplicate_client_id_rejection_adopts_the_venue_order(
    trader, venue_instruments, worker, emulator
):
    from exchanges.registry import adapter_for

    row = instrument(USDM, SYMBOL)
    state_client().set(PAUSE_AFTER_WRITE_AHEAD_KEY, 3)  # the worker waits before it sends...
    order = trader.place(row, type="limit")
    wait_for(lambda: _attempts(order["id"]), what="the write-ahead attempt")
    placed = adapter_for(USDM).place_order(  # ...while "someone" places the same client id
        PlaceOrder(
            venue_symbol=row.venue_symbol,
            client_order_id=order["client_order_id"],
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal(order["quantity"]),
            price=Decimal(order["price"]),
            time_in_force=TimeInForce.GTC,
        )
    )
    state_client().delete(PAUSE_AFTER_WRITE_AHEAD_KEY)

    settled = trader.wait(order["id"], {"NEW"}, worker=worker)
    assert settled["venue_order_id"] == placed.venue_order_id
    assert settled["client_order_id"] == order["client_order_id"]  # never re-minted
    _exactly_one_at_venue(emulator, order)
    assert any("duplicate client order id" in r for r in _reasons(order["id"]))
    assert [a.outcome for a in _attempts(order["id"])] == ["rejected"]


# --- cancel --------------------------------------------------------------------------------------


def test_cancelling_an_order_that_already_filled_ends_filled_with_its_fills(
    trader, venue_instruments, worker, emulator
):
    order = trader.place(instrument(USDM, SYMBOL), type="limit")
    trader.wait(order["id"], {"NEW"}, worker=worker)
    # The cancel is slow to reach the venue; the order fills meanwhile.
    emulator.add_fault("binance", "latency", method="DELETE", path=ORDER_PATH, count=1, delay=2)

    trader.cancel(order["id"])
    emulator.fill(order["client_order_id"], venue_api=USDM)
    settled = trader.wait(order["id"], {"FILLED"}, worker=worker)

    assert Decimal(settled["filled_quantity"]) == Decimal(order["quantity"])
    trades = emulator.trades("binance", client_order_id=order["client_order_id"])
    assert Order.objects.get(pk=order["id"]).fills.count() == len(trades) >= 1
    assert settled["cancel_confirmed_at"] is None  # the cancel never took effect


# --- crashes -------------------------------------------------------------------------------------


def test_a_worker_killed_between_write_ahead_and_send_loses_nothing(
    trader, venue_instruments, worker, emulator
):
    state_client().set(PAUSE_AFTER_WRITE_AHEAD_KEY, 30)
    order = trader.place(instrument(USDM, SYMBOL), type="limit")
    wait_for(
        lambda: OrderAttempt.objects.filter(order_id=order["id"], outcome="pending").exists(),
        what="a committed write-ahead attempt",
    )
    worker.kill()
    assert _venue_orders(emulator, order) == []  # never sent
    state_client().delete(PAUSE_AFTER_WRITE_AHEAD_KEY)

    worker.start()  # reconciliation at start resolves it
    settled = trader.wait(order["id"], {"NEW"}, worker=worker)

    truth = _exactly_one_at_venue(emulator, order)
    assert settled["venue_order_id"] == str(truth["order_id"])
    outcomes = [a.outcome for a in _attempts(order["id"])]
    assert outcomes == ["outcome_unknown", "ok"], outcomes


def test_a_worker_killed_between_send_and_ack_loses_nothing_and_duplicates_nothing(
    trader, venue_instruments, worker, emulator
):
    # The venue accepts at once and holds the answer: the kill lands while the call is in flight.
    emulator.add_fault("binance", "timeout", method="POST", path=ORDER_PATH, count=1, delay=30)
    rows = [instrument(USDM, SYMBOL), instrument("binance.spot", "BTC/USDT")]
    market = trader.place(rows[0], type="market")
    wait_for(lambda: _venue_orders(emulator, market), what="the venue to accept the order")
    assert OrderAttempt.objects.get(order_id=market["id"]).outcome == "pending"

    worker.kill()
    limit = trader.place(rows[1], type="limit")  # accepted while no worker runs
    worker.start()

    settled = trader.wait(market["id"], {"FILLED"}, worker=worker)
    truth = _exactly_one_at_venue(emulator, market)
    assert settled["venue_order_id"] == str(truth["order_id"])
    assert Order.objects.get(pk=market["id"]).fills.exists()
    trader.wait(limit["id"], {"NEW"}, worker=worker)
    _exactly_one_at_venue(emulator, limit, "binance.spot")


# --- failover ------------------------------------------------------------------------------------


def test_a_refused_venue_fails_over_before_the_first_send(
    trader, venue_instruments, worker, emulator
):
    from reliability.breaker import breaker_for

    breaker_for(USDM).force_open(by="test", reason="failover test")
    body = order_body(instrument(USDM, SYMBOL), emulator, type="limit", failover=["bitmex"])

    response = trader.post(body)
    assert response.status_code == 202, response.content
    settled = trader.wait(response.json()["id"], {"NEW"}, worker=worker)

    assert settled["venue_api"] == "bitmex" and settled["exchange"] == "bitmex"
    _exactly_one_at_venue(emulator, settled, "bitmex")
    assert _venue_orders(emulator, settled, USDM) == []
    assert any(
        r.startswith("failover from binance.usdm to bitmex") for r in _reasons(settled["id"])
    )
    assert {a.outcome for a in _attempts(settled["id"]) if a.venue_api == USDM} == {"not_sent"}


def test_an_open_breaker_without_failover_fails_fast_with_a_clear_error(
    trader, venue_instruments, emulator
):
    from reliability.breaker import breaker_for

    breaker_for(USDM).force_open(by="test", reason="fail fast test")
    response = trader.post(order_body(instrument(USDM, SYMBOL), emulator, type="limit"))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "venue_unavailable"
    assert not Order.objects.exists()


def test_an_unknown_outcome_never_fails_over(trader, venue_instruments, worker, emulator):
    from reliability.breaker import breaker_for

    emulator.add_fault("binance", "timeout", method="POST", path=ORDER_PATH, count=1, delay=30)
    unreachable = emulator.add_fault("binance", "drop", method="GET", path=ORDER_PATH)
    body = order_body(instrument(USDM, SYMBOL), emulator, type="limit", failover=["bitmex"])
    order = trader.post(body).json()
    trader.wait(order["id"], {"SUBMIT_UNKNOWN"}, worker=worker)

    def resolver_queries() -> int:
        rules = emulator._call("GET", "binance", "faults")["rules"]
        return next(r["fired"] for r in rules if r["id"] == unreachable["id"])

    wait_for(lambda: resolver_queries() >= 2, what="the resolver to find the venue unreachable")
    breaker_for(USDM).force_open(by="test", reason="the venue looks down now")
    # Refused before sending from now on, which WOULD move a never-sent order: not this one.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        now = trader.get(order["id"])
        assert (now["state"], now["venue_api"]) == ("SUBMIT_UNKNOWN", USDM)
        time.sleep(0.2)

    emulator.clear_faults("binance")
    breaker_for(USDM).reset(by="test", reason="venue back")
    settled = trader.wait(order["id"], {"NEW"}, worker=worker)
    assert settled["venue_api"] == USDM
    _exactly_one_at_venue(emulator, order)
    assert emulator.orders("bitmex") == []
    assert not any("failover" in reason for reason in _reasons(order["id"]))

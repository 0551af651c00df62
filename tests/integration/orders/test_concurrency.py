"""Races between processes on one order, each thread on its own PostgreSQL connection."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from orders import lifecycle, services
from orders.errors import StaleOrder
from orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 60


def _race(workers) -> list:
    """Each worker reads (its own DB connection) and returns an action; actions start together."""
    barrier = threading.Barrier(len(workers), timeout=TIMEOUT)
    results: list = [None] * len(workers)

    def run(i, fn):
        try:
            action = fn()
            barrier.wait()
            results[i] = action()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a racer hung"
    return results


def test_two_workers_transitioning_one_order_exactly_one_wins(account, order_factory):
    order = order_factory(account, state="PENDING_NEW")

    def move(to_state):
        def _read():
            copy = Order.objects.get(pk=order.pk)  # both read version 1
            return lambda: lifecycle.transition(
                copy, to_state, actor="worker", reason=f"race {to_state}"
            )

        return _read

    for _round in range(5):
        results = _race([move("NEW"), move("REJECTED")])
        winners = [r for r in results if isinstance(r, Order)]
        losers = [r for r in results if isinstance(r, StaleOrder)]
        assert len(winners) == 1 and len(losers) == 1, results
        row = Order.objects.get(pk=order.pk)
        assert row.state == winners[0].state and row.version == 2
        events = list(OrderEvent.objects.filter(order=order).order_by("sequence"))
        assert [e.sequence for e in events] == [1, 2]
        assert events[1].to_state == row.state
        # reset for the next round (a fresh order; history is append-only)
        order = order_factory(account, state="PENDING_NEW")


def test_a_cancel_racing_a_fill_both_land(account, order_factory):
    order = order_factory(account, state="NEW", quantity=Decimal("0.010"))

    def fill():
        copy = Order.objects.get(pk=order.pk)
        return lambda: lifecycle.apply_fill(
            copy,
            trade_id="race-1",
            quantity=Decimal("0.004"),
            price=Decimal("65000"),
            fee=Decimal(0),
            fee_asset=None,
            ts=timezone.now(),
            actor="worker",
        )

    def cancel():
        copy = Order.objects.get(pk=order.pk)
        return lambda: services.order_cancel(order=copy, actor="api")

    results = _race([fill, cancel])
    assert all(isinstance(r, Order) for r in results), results
    row = Order.objects.get(pk=order.pk)
    assert row.filled_quantity == Decimal("0.004")
    assert row.cancel_requested_at is not None
    # whichever came first, the history holds both and the versions are consecutive
    events = list(OrderEvent.objects.filter(order=order).order_by("sequence"))
    assert [e.sequence for e in events] == [1, 2, 3]
    assert row.version == 3
    assert row.state in ("PENDING_CANCEL", "PARTIALLY_FILLED")


def test_concurrent_requests_with_one_idempotency_key_make_one_order(account, instruments):
    body = {
        "exchange": "binance",
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "type": "limit",
        "quantity": "0.010",
        "price": "70000.0",
    }

    def create():
        return lambda: services.order_create(account=account, data=body, idempotency_key="same-key")

    results = _race([create] * 4)
    assert all(isinstance(r, Order) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Order.objects.filter(account=account).count() == 1
    assert sum(1 for r in results if not r.idempotent_replay) == 1

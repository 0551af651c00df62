"""Services queue their venue work on commit, on the Redis list named after the venue API."""

from __future__ import annotations

import base64
import json

import pytest

from orders import services
from orders.models import Order
from tests.fixtures.orders import LIMIT_ORDER_BODY

pytestmark = pytest.mark.django_db(transaction=True)

BODY = LIMIT_ORDER_BODY


def messages(broker, queue: str) -> list[dict]:
    """The Celery messages waiting on a queue (kombu's Redis transport: one list per queue)."""
    return [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]


def task_of(message: dict) -> tuple[str, list]:
    body = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], body[0]


def test_create_puts_the_submit_on_the_venue_api_queue(api, instruments, broker):
    response = api.post("/api/v1/orders", BODY, format="json", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 202
    order_id = response.json()["id"]
    queued = messages(broker, "binance.usdm")
    assert [task_of(m) for m in queued] == [("orders.tasks.submit_order", [order_id])]
    assert queued[0]["headers"]["x_request_id"] == "req-123"
    assert broker.llen("binance.spot") == broker.llen("bitmex") == broker.llen("default") == 0


def test_each_venue_api_gets_its_own_queue(account, instruments, broker):
    for exchange, symbol, qty, price in [
        ("binance", "BTC/USDT", "0.001", "65000.01"),
        ("binance", "BTC/USD:BTC", "1", "65000.1"),
        ("bitmex", "BTC/USD:BTC", "100", "65000.5"),
    ]:
        data = {**BODY, "exchange": exchange, "symbol": symbol, "quantity": qty, "price": price}
        services.order_create(account=account, data=data)
    assert broker.llen("binance.spot") == broker.llen("binance.coinm") == broker.llen("bitmex") == 1


def test_cancel_amend_and_reconcile_are_queued_too(account, instruments, broker):
    order = services.order_create(account=account, data=BODY)
    broker.delete("binance.usdm")
    order = Order.objects.get(pk=order.pk)
    from orders import lifecycle

    lifecycle.transition(order, "NEW", actor="worker", reason="ack")
    services.order_amend(order=order, price="65001.0", actor="api")
    services.order_request_reconcile(order=order, actor="operator", reason="check")
    services.order_cancel(order=order, actor="api")
    tasks = [task_of(m)[0] for m in messages(broker, "binance.usdm")]
    # LPUSH: newest first
    assert tasks == [
        "orders.tasks.cancel_order",
        "orders.tasks.reconcile_order",
        "orders.tasks.amend_order",
    ]


def test_an_explicit_correlation_id_travels_in_the_header_the_worker_binds(
    account, instruments, broker
):
    from monitoring import correlation

    correlation.clear()  # outside any request: an operator action with its own id
    order = services.order_create(account=account, data=BODY)
    broker.delete("binance.usdm")
    services.order_request_reconcile(
        order=order, actor="operator", reason="check", correlation_id="op-77"
    )
    (queued,) = messages(broker, "binance.usdm")
    assert queued["headers"]["x_request_id"] == "op-77"


def test_nothing_is_queued_when_the_transaction_rolls_back(account, instruments, broker):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.order_create(account=account, data=BODY)
        raise RuntimeError("boom")
    assert broker.llen("binance.usdm") == 0
    assert not Order.objects.exists()


def test_the_placeholder_tasks_run_and_log(account, instruments):
    from orders import tasks

    order = services.order_create(account=account, data=BODY)
    for task in (tasks.submit_order, tasks.amend_order, tasks.cancel_order, tasks.reconcile_order):
        task.run(order.pk)
    tasks.submit_order.run(10**9)  # a vanished order is not an error

"""Order tasks pushed straight onto the Redis broker (orders/broker.py): the message is the one
Celery + kombu would have pushed, a real worker runs it, the per-process client survives a Redis
restart, and a publish that fails leaves the accepted order in PENDING_NEW, logged."""

from __future__ import annotations

import base64
import json
import time

import pytest

from orders import services, tasks
from orders.broker import DirectPublisher, publisher
from orders.models import Order
from tests.fixtures.orders import LIMIT_ORDER_BODY
from tests.fixtures.worker import forget_broker_connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_broker_connections(fresh_reliability):
    """Tests here stop Redis: no later test may find this process's pooled broker connections
    dead, nor breaker state its handles kept locally meanwhile (fresh_reliability)."""
    yield
    forget_broker_connections()


BODY = LIMIT_ORDER_BODY
# Per message: ids and tags; everything else must match kombu's envelope exactly.
_PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag"}


def _pushed(broker, queue: str) -> dict:
    (raw,) = broker.lrange(queue, 0, -1)
    broker.delete(queue)
    return json.loads(raw)


def _comparable(envelope: dict) -> dict:
    envelope = dict(envelope)
    envelope["body"] = json.loads(base64.b64decode(envelope["body"]))
    for part in ("headers", "properties"):
        envelope[part] = {k: v for k, v in envelope[part].items() if k not in _PER_MESSAGE}
    return envelope


def test_it_pushes_the_envelope_kombu_would_push(broker):
    headers = {"x_request_id": "req-1"}
    tasks.submit_order.apply_async(args=[41], queue="binance.usdm", headers=headers)
    by_kombu = _pushed(broker, "binance.usdm")
    publisher().publish(tasks.submit_order, args=[41], queue="binance.usdm", headers=headers)
    direct = _pushed(broker, "binance.usdm")

    assert _comparable(direct) == _comparable(by_kombu)
    assert direct["headers"]["id"] == direct["headers"]["root_id"]
    assert direct["properties"]["correlation_id"] == direct["headers"]["id"]
    assert direct["headers"]["id"] != by_kombu["headers"]["id"]


def test_it_is_only_used_for_the_broker_set_up_it_reproduces():
    from trading.celery import app

    assert DirectPublisher.supports(app)
    original = dict(app.conf.broker_transport_options)
    try:
        app.conf.broker_transport_options = {**original, "global_keyprefix": "x:"}
        assert not DirectPublisher.supports(app)
        app.conf.broker_transport_options = {**original, "priority_steps": [0, 5]}
        assert not DirectPublisher.supports(app)
    finally:
        app.conf.broker_transport_options = original
    original_protocol = app.conf.task_protocol
    try:
        app.conf.task_protocol = 1
        assert not DirectPublisher.supports(app)
    finally:
        app.conf.task_protocol = original_protocol


def test_a_real_worker_runs_a_task_pushed_directly(worker):
    # an order that does not exist: the worker runs the task and finds nothing to do
    publisher().publish(
        tasks.submit_order, args=[10**9], queue="binance.usdm", headers={"x_request_id": "direct-1"}
    )
    line = worker.wait_for_log(lambda line: line.get("correlation_id") == "direct-1")
    assert line.get("task") == "orders.tasks.submit_order", line


def test_the_client_survives_a_redis_restart_and_a_worker_runs_the_message(redis_server, worker):
    direct = publisher()
    direct.publish(tasks.reconcile_order, args=[10**9], queue="default")  # a pooled connection
    worker.stop()  # (kombu may end a consuming worker on a Redis restart; not what is tested)
    redis_server.stop()
    redis_server.start()

    # the pooled connection is dead: the push is retried on a fresh one
    direct.publish(
        tasks.submit_order, args=[10**9], queue="binance.usdm", headers={"x_request_id": "after"}
    )

    worker.start()
    line = worker.wait_for_log(lambda line: line.get("correlation_id") == "after")
    assert line.get("task") == "orders.tasks.submit_order", line


def test_a_publish_that_fails_leaves_the_order_pending_new_and_logs_it(
    account, instruments, redis_server, caplog
):
    redis_server.stop()
    started = time.monotonic()
    order = services.order_create(account=account, data=BODY)
    took = time.monotonic() - started

    assert Order.objects.get(pk=order.pk).state == "PENDING_NEW"
    failures = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event")]
    assert any(
        m["event"] == "order_task_enqueue_failed" and m["order_id"] == order.pk for m in failures
    ), failures
    assert took < 10  # two quick retries, not redis-py's default backoff

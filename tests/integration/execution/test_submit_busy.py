"""A submit that finds its order locked by another process tries again shortly
(orders/execution/submit.py BUSY_RETRY_SECONDS) instead of dropping the job.

The holder is not always a worker sending the same order: a reconciliation pass (a worker's
start-up pass, beat's pass) locks each in-flight order while it reads it, and for a fresh
PENDING_NEW order it only waits. A submit arriving in that moment used to return "busy" and
drop the job, so the order sat in PENDING_NEW, sent by nobody, until the stale-order sweep
(EXECUTION_STALE_SECONDS, 30 s by default): seen as a first order "not NEW after 30 s" in the
end-to-end benchmark, right after the worker started.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import redis
from django.conf import settings
from django.db import connections, transaction

from orders import services
from orders.execution.locks import _key
from orders.execution.reconcile import order_reconcile
from orders.execution.submit import BUSY_RETRY_SECONDS, order_submit
from orders.models import Order
from tests.fixtures.execution import EXECUTION_TEST_ENV, instrument, order_body, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USDM = "binance.usdm"
SYMBOL = "BTC/USDT:USDT"


class OtherProcessLock:
    """The order's advisory lock, held on another PostgreSQL session (another worker's)."""

    def __init__(self, order_id: int):
        self.key = _key(order_id)
        self.connection = connections.create_connection("default")
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [self.key])

    def release(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        self.connection.close()


def queued(queue: str) -> list[dict]:
    """The task messages on a venue API's queue: task name, args, ETA."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        headers = message["headers"]
        messages.append({"task": headers["task"], "args": body[0], "eta": headers.get("eta")})
    return messages


@pytest.fixture
def order(api, emulator, venue_instruments) -> Order:
    body = order_body(instrument(USDM, SYMBOL), emulator, type="limit")
    return services.order_create(account=api.account, data=body)


def test_a_busy_submit_queues_itself_again_and_then_sends_the_order(order, emulator):
    before = [m for m in queued(USDM) if m["eta"]]
    lock = OtherProcessLock(order.pk)
    try:
        assert order_submit(order_id=order.pk) == "busy"
        assert order_reconcile(order_id=order.pk) == "busy"  # a busy reconcile queues nothing
    finally:
        lock.release()

    retries = [m for m in queued(USDM) if m["eta"]][len(before) :]
    assert [(m["task"], m["args"]) for m in retries] == [("orders.tasks.submit_order", [order.pk])]
    assert BUSY_RETRY_SECONDS < 1
    assert order_submit(order_id=order.pk) == "acknowledged"  # what the retry does, lock free
    assert order_submit(order_id=order.pk) == "noop"
    assert len(emulator.orders(USDM, client_order_id=order.client_order_id)) == 1


@pytest.fixture
def worker_env_extra():
    return EXECUTION_TEST_ENV


def test_an_order_whose_submit_met_a_reconciliation_reaches_the_venue_once_it_is_free(
    api, emulator, venue_instruments, worker
):
    body = order_body(instrument(USDM, SYMBOL), emulator, type="limit")
    with transaction.atomic():  # its submit is published at commit: the lock is taken first
        order = services.order_create(account=api.account, data=body)
        lock = OtherProcessLock(order.pk)
    try:
        worker.wait_for_log(  # the submit met the lock (held "by a reconciliation pass")
            lambda ln: "submit_order" in ln.get("event", "") and "'busy'" in ln.get("event", ""),
            timeout=10,
        )
    finally:
        lock.release()
    released = time.monotonic()
    new = wait_for(
        lambda: Order.objects.filter(pk=order.pk, state="NEW").first(),
        timeout=10,
        what="the order NEW once the lock was released",
    )
    # sent by the retry, well before a stale-order sweep could have requeued it
    assert time.monotonic() - released < float(EXECUTION_TEST_ENV["EXECUTION_STALE_SECONDS"])
    assert new.venue_order_id
    assert len(emulator.orders(USDM, client_order_id=order.client_order_id)) == 1

"""A PENDING_NEW order nobody worked on: reconciliation queues its submit again, once per
EXECUTION_STALE_SECONDS, not once per pass.

Nothing in re-queuing touches the order's row, so before the fix every pass (beat, every
RECONCILE_INTERVAL_SECONDS) queued one more submit for the same stale order and the venue queue
filled with no-op tasks. These tests read the submit messages on the real Redis broker.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.execution.reconcile import venue_reconcile
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

API = "binance.usdm"
STALE = 3.0  # seconds: two passes finish well within it even on a loaded machine


def _submits(broker, order_id: int) -> int:
    count = 0
    for raw in broker.lrange(API, 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        count += message["headers"]["task"] == "orders.tasks.submit_order" and args == [order_id]
    return count


@pytest.fixture
def stale_order(account, order_factory, broker, settings):
    settings.EXECUTION_STALE_SECONDS = STALE
    order = order_factory(account, state="PENDING_NEW", instrument="binance.usdm:BTCUSDT")
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    return order


def test_consecutive_passes_queue_one_submit_per_stale_interval(stale_order, broker):
    first = venue_reconcile(venue_api=API)
    queued_at = time.monotonic()
    second = venue_reconcile(venue_api=API)

    assert _submits(broker, stale_order.pk) == 1
    assert first.results == {"requeued": 1}
    assert second.results == {"waiting": 1}

    # After the interval the order (still stale, still PENDING_NEW) gets one more submit.
    time.sleep(max(0.0, queued_at + STALE + 0.2 - time.monotonic()))
    third = venue_reconcile(venue_api=API)

    assert third.results == {"requeued": 1}
    assert _submits(broker, stale_order.pk) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_with_the_cache_down_every_pass_still_queues_the_submit(
    stale_order, broker, settings, caplog
):
    cache = settings.CACHES["default"]
    settings.CACHES = {"default": {**cache, "LOCATION": f"redis://127.0.0.1:{_closed_port()}/1"}}

    for _ in range(2):
        assert venue_reconcile(venue_api=API).results == {"requeued": 1}

    # Better a duplicate submit (the task is idempotent) than a stale order never sent.
    assert _submits(broker, stale_order.pk) == 2
    events = [r.msg.get("event") for r in caplog.records if isinstance(r.msg, dict)]
    assert events.count("reconcile_requeue_mark_failed") == 2

"""A follow-up an execution task queues for its order while it holds the order's lock is
published only once the lock is released (orders/execution/locks.py, followups.py).

Otherwise the follow-up can start in another pool child before this task has released the
lock, find the order "busy" and drop the job: a reconciler's "proven absent: resend" left the
order in PENDING_NEW until the stale-order sweep (seen once tasks stopped opening a database
connection each, which used to delay the next task past the release).
"""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from orders import services
from orders.execution import followups
from orders.execution.locks import order_lock
from tests.fixtures.execution import instrument, order_body

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USDM = "binance.usdm"
SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def order(api, emulator, venue_instruments):
    body = order_body(instrument(USDM, SYMBOL), emulator, type="limit")
    created = services.order_create(account=api.account, data=body)
    broker().delete(USDM)  # the accept's own submit: not this test's message
    return created


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def test_a_follow_up_queued_under_the_order_lock_waits_for_its_release(order):
    with order_lock(order.pk) as held:
        assert held
        followups.schedule("submit_order", order_id=order.pk, queue=USDM)
        with order_lock(order.pk) as again:  # the same session may take it twice
            assert again
        assert broker().llen(USDM) == 0  # still held: nothing published yet
    assert broker().llen(USDM) == 1


def test_a_follow_up_queued_without_the_lock_is_published_at_once(order):
    followups.schedule("submit_order", order_id=order.pk, queue=USDM)
    assert broker().llen(USDM) == 1

"""Redis restarts under a real worker that holds an unacknowledged task (trading/broker.py).

kombu 5.7 used to end the worker here ("Unrecoverable error: AttributeError('NoneType' object
has no attribute 'hostname')", raised while it restored the unacked messages of a connection
Celery had already detached); under `make run` honcho then stops every process. The worker must
stay up, reconnect and keep consuming, and no order may be placed twice.
"""

from __future__ import annotations

import time

import pytest

from monitoring.redis import state_client
from orders.models import OrderAttempt
from tests.fixtures.execution import EXECUTION_TEST_ENV, instrument, wait_for
from tests.worker_app import PAUSE_AFTER_WRITE_AHEAD_KEY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USDM = "binance.usdm"
SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def worker_env_extra():
    return EXECUTION_TEST_ENV


def _restart(redis_server, down_seconds: float) -> None:
    """SHUTDOWN NOSAVE (queues, unacked set, breaker state gone), then the same port again."""
    redis_server.stop()
    time.sleep(down_seconds)
    redis_server.start()
    # This test process's pooled broker connections (publishing, control) died with Redis:
    # start afresh, as a forked process does, so the next test's control calls do not fail.
    from kombu import pools

    from trading.celery import app

    pools.reset()
    app._after_fork()


def test_a_worker_holding_an_unacked_task_survives_a_redis_restart_and_keeps_consuming(
    trader, venue_instruments, worker, emulator, redis_server
):
    state_client().set(PAUSE_AFTER_WRITE_AHEAD_KEY, 4)
    held = trader.place(instrument(USDM, SYMBOL), type="limit")
    wait_for(
        lambda: OrderAttempt.objects.filter(order_id=held["id"], outcome="pending").exists(),
        what="the task to hold its message (write-ahead committed, paused before sending)",
    )

    _restart(redis_server, down_seconds=1.0)

    # The held task finishes in its pool child (PostgreSQL and the venue were never down).
    trader.wait(held["id"], {"NEW"}, worker=worker)
    time.sleep(2)  # the broker connection was lost (and handled) seconds ago
    assert worker.alive(), f"the worker exited:\n{worker.log_tail()}"

    # It consumes again: an order accepted after the restart reaches the venue.
    after = trader.place(instrument(USDM, SYMBOL), type="limit")
    trader.wait(after["id"], {"NEW"}, worker=worker)
    assert worker.alive()
    for order in (held, after):  # once each at the venue, whatever was redelivered
        assert len(emulator.orders(USDM, client_order_id=order["client_order_id"])) == 1

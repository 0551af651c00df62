"""The worker fixture runs a real Celery worker process that a test can SIGKILL and restart."""

from __future__ import annotations

import time

import pytest

from monitoring.redis import state_client
from monitoring.tasks import BEAT_HEARTBEAT_KEY, beat_heartbeat

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_it_runs_queued_tasks_and_survives_sigkill_and_restart(worker):
    from trading.celery import app

    beat_heartbeat.apply_async(queue="default")
    assert _wait_for(lambda: state_client().get(BEAT_HEARTBEAT_KEY)), worker.log_tail()

    worker.kill()
    assert not worker.alive()
    assert not app.control.ping(destination=[worker.hostname], timeout=0.5)

    state_client().delete(BEAT_HEARTBEAT_KEY)
    beat_heartbeat.apply_async(queue="default")  # queued while no worker runs
    worker.start()
    assert _wait_for(lambda: state_client().get(BEAT_HEARTBEAT_KEY)), worker.log_tail()


def test_it_uses_the_test_database(worker):
    assert "test" in worker.env["DATABASE_URL"].rsplit("/", 1)[-1]
    assert worker.env["TRADING_STAGE"] == "test"

"""The Celery app as the tests' worker process runs it (`celery -A tests.worker_app worker`):
the production app, plus test-only hooks.

Pause after write-ahead: when a test sets the Redis key PAUSE_AFTER_WRITE_AHEAD_KEY (shared
reliability-state database) to a number of seconds, an execution service that has just
committed its write-ahead attempt row sleeps that long before sending the request, so the test
can SIGKILL the worker "between write-ahead and send". Unset, nothing happens.
"""

from __future__ import annotations

import time

from celery.signals import task_postrun

from orders.execution.signals import write_ahead_committed
from trading.celery import app

__all__ = ["PAUSE_AFTER_WRITE_AHEAD_KEY", "app"]

PAUSE_AFTER_WRITE_AHEAD_KEY = "test:pause_after_write_ahead_seconds"


def _pause_after_write_ahead(**_kwargs) -> None:
    from monitoring.redis import state_client

    seconds = float(state_client().get(PAUSE_AFTER_WRITE_AHEAD_KEY) or 0)
    if seconds > 0:
        time.sleep(seconds)


write_ahead_committed.connect(_pause_after_write_ahead, weak=False)


def _save_coverage(**_kwargs) -> None:
    """Tests SIGKILL this worker: keep each task's coverage instead of losing it with the pool."""
    try:
        import coverage
    except ImportError:  # pragma: no cover - coverage is a test dependency
        return
    current = coverage.Coverage.current()
    if current is not None:
        current.save()


task_postrun.connect(_save_coverage, weak=False)

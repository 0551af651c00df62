"""The Celery app as the tests' worker process runs it (`celery -A tests.worker_app worker`):
the production app, plus test-only hooks.

Pause after write-ahead: when a test sets the Redis key PAUSE_AFTER_WRITE_AHEAD_KEY (shared
reliability-state database) to a number of seconds, an execution service that has just
committed its write-ahead attempt row sleeps that long before sending the request, so the test
can SIGKILL the worker "between write-ahead and send". Unset, nothing happens.
"""

from __future__ import annotations

import contextlib
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


# --- database connections across tasks (tests/integration/test_worker_db_connections.py) -------
BACKEND_PIDS_KEY = "test:backend_pids"


@app.task(name="tests.record_backend_pid", ignore_result=True, acks_late=True)
def record_backend_pid(*, fail: bool = False, stuck_query_seconds: float = 0.0) -> None:
    """Appends the PostgreSQL backend pid serving this task to BACKEND_PIDS_KEY; then fails, or
    runs a query its soft time limit interrupts and swallows the interruption (the task still
    succeeds, its connection is left in the middle of that query)."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db import connection

    from monitoring.redis import state_client

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        state_client().rpush(BACKEND_PIDS_KEY, cursor.fetchone()[0])
        if stuck_query_seconds:
            with contextlib.suppress(SoftTimeLimitExceeded):
                cursor.execute("SELECT pg_sleep(%s)", [stuck_query_seconds])
    if fail:
        raise RuntimeError("test: the task failed")

"""The Celery app as the tests' worker process runs it (`celery -A tests.worker_app worker`):
the production app, plus test-only hooks switched on by clearly named environment variables.

TEST_PAUSE_AFTER_WRITE_AHEAD_SECONDS: after an execution service commits its write-ahead
attempt row and before it sends the request, the task sleeps this long, so a test can SIGKILL
the worker "between write-ahead and send".
"""

from __future__ import annotations

import os
import time

from trading.celery import app

__all__ = ["app"]

_PAUSE = float(os.environ.get("TEST_PAUSE_AFTER_WRITE_AHEAD_SECONDS", "0") or 0)


def _pause_after_write_ahead(**_kwargs) -> None:
    time.sleep(_PAUSE)


if _PAUSE > 0:
    from orders.execution.signals import write_ahead_committed

    write_ahead_committed.connect(_pause_after_write_ahead, weak=False)

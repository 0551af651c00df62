"""A real prefork worker keeps its PostgreSQL connection from one task to the next
(trading/celery_db.py), and never hands the next task a connection that is broken, in the
middle of a query or owned by a task that failed."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from monitoring.redis import state_client
from tests.worker_app import BACKEND_PIDS_KEY, record_backend_pid

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """One pool child: consecutive tasks run in the same process, so they may share a connection."""
    from tests.fixtures.worker import CeleryWorker, purge_queues

    proc = CeleryWorker(tmp_path_factory.mktemp("celery-worker-db"), concurrency=1)
    yield proc
    proc.stop()
    purge_queues()


@pytest.fixture
def worker_env_extra():
    # No start-up reconciliation: only this module's tasks run in the pool child.
    return {"EXECUTION_RECONCILE_ON_WORKER_START": "false"}


def _pids(count: int, timeout: float = 60.0) -> list[int]:
    redis = state_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(p) for p in redis.lrange(BACKEND_PIDS_KEY, 0, -1)]
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"{count} tasks did not report a backend pid in {timeout}s: {pids}")


def _run(count: int, **kwargs) -> list[int]:
    record_backend_pid.apply_async(kwargs=kwargs, queue="default", soft_time_limit=2, time_limit=20)
    return _pids(count)


def test_it_keeps_one_connection_for_consecutive_tasks(worker):
    for n in range(1, 4):
        pids = _run(n)
    assert len(set(pids)) == 1, pids


def test_it_opens_a_new_connection_after_a_task_failed(worker):
    first = _run(1)[0]
    failed = _run(2, fail=True)[1]
    assert failed == first  # the failing task itself used the kept connection
    after = _run(3)[2]
    assert after != first


def test_it_replaces_a_connection_left_in_the_middle_of_an_interrupted_query(worker):
    stuck = _run(1, stuck_query_seconds=5)[0]  # soft limit (2 s) interrupts; task "succeeds"
    after = _run(2)[1]  # reported: its query ran without an error
    assert after != stuck


def test_it_replaces_a_connection_postgresql_dropped_before_the_next_task(worker):
    first = _run(1)[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    after = _run(2)[1]  # reported: the health check replaced the dead connection first
    assert after != first

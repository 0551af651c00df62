"""A worker process keeps its PostgreSQL connection from one task to the next.

Celery's Django fix-up closes every database connection before and after every task unless
CELERY_DB_REUSE_MAX is set, so each task used to open a new connection (a TCP connect,
authentication and a new server backend: 3-15 ms on the path of every order). With
CELERY_DB_REUSE_MAX set (settings), the connection is kept under Django's own rules, applied
here around every task the way Django applies them around every request:

- before a task: close_old_connections() closes a connection older than CONN_MAX_AGE or one
  that has seen errors and no longer answers; CONN_HEALTH_CHECKS then runs one `SELECT 1`
  before the task's first query, so a connection PostgreSQL dropped (a restart, a failover)
  is replaced before the task uses it, not found broken by it.
- after a task: a connection is kept only when the task succeeded (or asked for a retry) and
  the connection is idle (no transaction open, no query in flight). A task that failed, was
  interrupted by its soft
  time limit in the middle of a query, or left a transaction open closes it, so the next task
  never inherits a half-used connection (Celery's reason for closing after every task). A
  closed connection also releases any session-level advisory lock (orders/execution/locks.py).
"""

from __future__ import annotations

from celery import signals
from django.db import close_old_connections, connections

# A task that ended in any other state raised something unexpected: its connection goes.
_KEEP_AFTER = frozenset({"SUCCESS", "RETRY"})


def _idle(conn) -> bool:
    """True when the connection holds no transaction and no query in flight."""
    if conn.in_atomic_block or conn.needs_rollback:
        return False
    raw = conn.connection
    if raw is None:
        return True
    from psycopg.pq import TransactionStatus

    return raw.info.transaction_status == TransactionStatus.IDLE


@signals.task_prerun.connect(weak=False)
def _before_task(task=None, **_kwargs) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@signals.task_postrun.connect(weak=False)
def _after_task(task=None, state=None, **_kwargs) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if state not in _KEEP_AFTER or not _idle(conn):
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()

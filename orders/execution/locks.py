"""One worker at a time per order: a PostgreSQL session-level advisory lock.

The lock is held (outside any transaction) across write-ahead, send and the state change. It
dies with the worker's database connection, so after a SIGKILL the next worker gets it at
once, and a `pending` attempt whose order lock is free proves its worker is gone.

Work queued for the order while its lock is held (followups.schedule) is published once the
lock is released (`after_unlock`): the next task for the order must find it free, not return
"busy" and drop the job because this one had not finished yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from django.db import DatabaseError, connection

log = structlog.get_logger(__name__)

# High bits name the lock family so other advisory locks never collide with order ids.
_NAMESPACE = 0x4F52 << 44  # "OR"
# Per thread: order id -> [how many times its lock is held, callbacks to run when released].
_held = threading.local()


def _key(order_id: int) -> int:
    return _NAMESPACE | int(order_id)


@contextmanager
def order_lock(order_id: int) -> Iterator[bool]:
    """Yields True while this process holds the order's lock, False if another one does."""
    if connection.in_atomic_block:
        raise RuntimeError("order_lock must be taken outside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_key(order_id)])
        held = bool(cursor.fetchone()[0])
    if held:
        _holding().setdefault(order_id, [0, []])[0] += 1
    try:
        yield held
    finally:
        if held:
            _unlock(order_id)
            _released(order_id)


def after_unlock(order_id: int, callback: Callable[[], None]) -> bool:
    """Runs `callback` once this thread releases the order's lock; False when it holds none."""
    entry = _holding().get(order_id)
    if entry is None:
        return False
    entry[1].append(callback)
    return True


def _holding() -> dict[int, list]:
    if not hasattr(_held, "orders"):
        _held.orders = {}
    return _held.orders


def _released(order_id: int) -> None:
    entry = _holding()[order_id]
    entry[0] -= 1
    if entry[0] > 0:
        return  # still held (the same session took it twice)
    del _holding()[order_id]
    for callback in entry[1]:
        callback()


def _unlock(order_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_key(order_id)])
    except DatabaseError:  # the connection died: PostgreSQL released the lock with it
        log.warning("order_lock_release_failed", order_id=order_id)


def order_lock_is_free(order_id: int) -> bool:
    """True when no process holds the order's lock (a probe: takes and releases it)."""
    with order_lock(order_id) as held:
        return held

"""Queues order tasks on their venue API's Celery queue, after the transaction commits.

A task must never see a row its caller has not committed, and a failed publish (broker down)
must not undo an order already accepted: it is logged, and the order stays in its state for
the execution sweeper and reconciliation to pick up.

The message goes straight onto the Redis broker (orders/broker.py: the same Celery message,
one LPUSH through a client kept per process) unless the broker set-up needs apply_async.
"""

from __future__ import annotations

import structlog
from django.db import transaction

from monitoring import correlation
from monitoring.worker import HEADER as CORRELATION_HEADER
from orders.broker import publisher

log = structlog.get_logger(__name__)

# Publishing gives up quickly when the broker is unreachable (the order is already saved).
_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def publish_order_task(task, *, order_id: int, queue: str, correlation_id: str | None) -> None:
    """Sends `task(order_id)` to `queue` now; raises when the broker cannot be reached."""
    # the header the worker binds (a plain "correlation_id" is Celery's own)
    headers = {CORRELATION_HEADER: correlation_id} if correlation_id else None
    direct = publisher()
    if direct is not None:
        direct.publish(task, args=[order_id], queue=queue, headers=headers)
        return
    task.apply_async(
        args=[order_id], queue=queue, headers=headers, retry=True, retry_policy=_RETRY_POLICY
    )


def enqueue_order_task(
    task, *, order, correlation_id: str | None = None, log_enqueued: bool = True
) -> None:
    """Sends `task(order.id)` to the queue named after order.venue_api once the transaction
    commits. log_enqueued=False: the caller logs its own line for it (a failure is logged)."""
    order_id, queue = order.pk, order.venue_api
    cid = correlation_id or correlation.current()

    def _publish() -> None:
        try:
            publish_order_task(task, order_id=order_id, queue=queue, correlation_id=cid)
        except Exception:
            log.exception(
                "order_task_enqueue_failed", task=task.name, order_id=order_id, queue=queue
            )
            return
        if log_enqueued:
            log.info("order_task_enqueued", task=task.name, order_id=order_id, queue=queue)

    transaction.on_commit(_publish)

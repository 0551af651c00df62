"""Queues order tasks on their venue API's Celery queue, after the transaction commits.

A task must never see a row its caller has not committed, and a failed publish (broker down)
must not undo an order already accepted: it is logged, and the order stays in its state for
the execution sweeper and reconciliation to pick up.
"""

from __future__ import annotations

import structlog
from django.db import transaction

from monitoring import correlation
from monitoring.worker import HEADER as CORRELATION_HEADER

log = structlog.get_logger(__name__)

# Publishing gives up quickly when the broker is unreachable (the order is already saved).
_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def enqueue_order_task(task, *, order, correlation_id: str | None = None) -> None:
    """Sends `task(order.id)` to the queue named after order.venue_api once the transaction commits."""
    order_id, queue = order.pk, order.venue_api
    cid = correlation_id or correlation.current()

    def _publish() -> None:
        try:
            task.apply_async(
                args=[order_id],
                queue=queue,
                # the header the worker binds (a plain "correlation_id" is Celery's own)
                headers={CORRELATION_HEADER: cid} if cid else None,
                retry=True,
                retry_policy=_RETRY_POLICY,
            )
        except Exception:
            log.exception(
                "order_task_enqueue_failed", task=task.name, order_id=order_id, queue=queue
            )
            return
        log.info("order_task_enqueued", task=task.name, order_id=order_id, queue=queue)

    transaction.on_commit(_publish)

"""Follow-up work an execution service schedules for itself: a retry later, a resolver poll.

Always on the order's venue API queue, after the current transaction commits (or at once
outside one) and after this worker released the order's lock (locks.after_unlock), so the
follow-up never finds the order still locked by the task that queued it. A lost follow-up is
not fatal: the reconciliation pass on beat finds every order that is still in flight.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.db import transaction

from monitoring import correlation

log = structlog.get_logger(__name__)


def schedule(task_name: str, *, order_id: int, queue: str, countdown: float = 0.0) -> None:
    """Queues orders.tasks.<task_name>(order_id) on `queue` in `countdown` seconds."""
    from orders import tasks

    task = getattr(tasks, task_name)
    cid = correlation.current()

    def publish() -> None:
        try:
            task.apply_async(
                args=[order_id],
                queue=queue,
                countdown=max(0.0, countdown) or None,
                headers={"correlation_id": cid} if cid else None,
            )
        except Exception:
            log.exception("execution_followup_failed", task=task_name, order_id=order_id)
            return
        log.info("execution_followup", task=task_name, order_id=order_id, countdown=countdown)

    from orders.execution.locks import after_unlock

    transaction.on_commit(lambda: after_unlock(order_id, publish) or publish())


def again_when_free(task_name: str, *, order_id: int, countdown: float) -> None:
    """What a task that found its order locked by another process does instead of dropping the
    job: queues itself again on the order's venue API queue in `countdown` seconds (the holder
    may only be reading the order, e.g. a reconciliation pass, and will not do this task's work)."""
    from orders.models import Order

    queue = Order.objects.filter(pk=order_id).values_list("venue_api", flat=True).first()
    schedule(task_name, order_id=order_id, queue=queue or "default", countdown=countdown)


def retry_delay(attempt_number: int, *, at_least: float | None = None) -> float:
    """Exponential delay for the n-th retry (1, 2, ...), capped; never below `at_least`."""
    base = settings.EXECUTION_RETRY_DELAY_SECONDS
    delay = min(settings.EXECUTION_RETRY_MAX_DELAY_SECONDS, base * 2 ** max(0, attempt_number - 1))
    return max(delay, at_least or 0.0)

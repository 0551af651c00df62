"""Order tasks, each routed to its venue API's queue (orders/queueing.py).

They take an order id, reload the row and (once the execution issue lands) call one
orders.execution service; they are idempotent and acked late. Until then they only log.
"""

from __future__ import annotations

import structlog
from celery import shared_task

from orders.models import Order

log = structlog.get_logger(__name__)


def _not_installed(operation: str, order_id: int) -> None:
    order = Order.objects.filter(pk=order_id).only("id", "state").first()
    log.warning(
        "order_execution_not_installed",
        operation=operation,
        order_id=order_id,
        state=order.state if order else None,
    )


@shared_task(name="orders.tasks.submit_order", ignore_result=True)
def submit_order(order_id: int) -> None:
    _not_installed("submit", order_id)


@shared_task(name="orders.tasks.amend_order", ignore_result=True)
def amend_order(order_id: int) -> None:
    _not_installed("amend", order_id)


@shared_task(name="orders.tasks.cancel_order", ignore_result=True)
def cancel_order(order_id: int) -> None:
    _not_installed("cancel", order_id)


@shared_task(name="orders.tasks.reconcile_order", ignore_result=True)
def reconcile_order(order_id: int) -> None:
    _not_installed("reconcile", order_id)

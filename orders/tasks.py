"""Order tasks, each on its venue API's queue (orders/queueing.py), each calling one
orders.execution service.

They take an id, reload the row and are idempotent: acks_late with reject-on-worker-lost means
a task may run again after a crash, and the services then find the order already moved on (or
its write-ahead attempt `pending`, which they treat as outcome unknown). Follow-ups (retry
later, resolver polls) are queued by the services themselves.
"""

from __future__ import annotations

import structlog
from celery import shared_task, signals
from django.conf import settings

from reliability.errors import RetryableError

log = structlog.get_logger(__name__)

_ORDER_TASK = {"ignore_result": True, "acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="orders.tasks.submit_order", **_ORDER_TASK)
def submit_order(order_id: int) -> str:
    from orders.execution.submit import order_submit

    return order_submit(order_id=order_id)


@shared_task(name="orders.tasks.amend_order", **_ORDER_TASK)
def amend_order(order_id: int) -> str:
    from orders.execution.amend import order_amend_send

    return order_amend_send(order_id=order_id)


@shared_task(name="orders.tasks.cancel_order", **_ORDER_TASK)
def cancel_order(order_id: int) -> str:
    from orders.execution.cancel import order_cancel_send

    return order_cancel_send(order_id=order_id)


@shared_task(name="orders.tasks.reconcile_order", **_ORDER_TASK)
def reconcile_order(order_id: int) -> str:
    from orders.execution.reconcile import order_reconcile

    return order_reconcile(order_id=order_id)


@shared_task(name="orders.tasks.reconcile_venue", **_ORDER_TASK)
def reconcile_venue(venue_api: str) -> dict:
    from orders.execution.reconcile import venue_reconcile

    _forget_queued_pass(venue_api)
    report = venue_reconcile(venue_api=venue_api)
    return {"checked": report.checked, "results": report.results, "stopped": report.stopped}


@shared_task(name="orders.tasks.reconcile_all", ignore_result=True)
def reconcile_all() -> None:
    """Beat: one reconciliation pass per venue API, each on its own queue.

    A pass waits behind its queue's backlog (submits, resolver polls) for up to
    RECONCILE_PASS_EXPIRES_SECONDS, and only one waits per venue API: a backlog neither makes
    every pass expire unrun (orders whose follow-ups were lost would wait for their deadline)
    nor piles passes up."""
    for venue_api in settings.VENUE_APIS:
        if not _mark_pass_queued(venue_api):
            continue  # the previous pass has not started yet
        try:
            reconcile_venue.apply_async(
                args=[venue_api], queue=venue_api, expires=settings.RECONCILE_PASS_EXPIRES_SECONDS
            )
        except Exception:
            _forget_queued_pass(venue_api)  # nothing waits: the next beat tries again
            raise


def _pass_key(venue_api: str) -> str:
    return f"reconcile:queued:{venue_api}"


def _mark_pass_queued(venue_api: str) -> bool:
    """True when no pass for the venue API is waiting (Redis down: True, better twice than none)."""
    from django.core.cache import cache

    try:  # add() is None when the cache swallowed a Redis error, False when the key exists
        added = cache.add(_pass_key(venue_api), 1, timeout=settings.RECONCILE_PASS_EXPIRES_SECONDS)
        return added is not False
    except Exception:
        log.warning("reconcile_pass_mark_failed", venue=venue_api)
        return True


def _forget_queued_pass(venue_api: str) -> None:
    from django.core.cache import cache

    try:
        cache.delete(_pass_key(venue_api))
    except Exception:
        log.warning("reconcile_pass_mark_failed", venue=venue_api)


@shared_task(
    name="orders.tasks.sync_instruments",
    # A worker may start before its venue answers (`make run` starts the emulator beside it):
    # keep trying for about a minute instead of leaving the instruments empty until beat's
    # hourly refresh. Only retryable failures (unreachable, breaker open, rate limited).
    autoretry_for=(RetryableError,),
    retry_backoff=1,
    retry_backoff_max=15,
    retry_jitter=False,
    max_retries=6,
    **_ORDER_TASK,
)
def sync_instruments(venue_api: str) -> str:
    from orders.execution.instruments import instruments_sync

    return str(instruments_sync(venue_api=venue_api))


@shared_task(name="orders.tasks.sync_all_instruments", ignore_result=True)
def sync_all_instruments() -> None:
    """Beat: refresh every venue API's instruments, each on its own queue."""
    for venue_api in settings.VENUE_APIS:
        sync_instruments.apply_async(args=[venue_api], queue=venue_api)


@shared_task(name="orders.tasks.arm_dead_man_switch", **_ORDER_TASK)
def arm_dead_man_switch(venue_api: str) -> list[str]:
    from orders.execution.deadman import deadman_arm

    return deadman_arm(venue_api=venue_api)


@shared_task(name="orders.tasks.arm_dead_man_switches", ignore_result=True)
def arm_dead_man_switches() -> None:
    """Beat: re-arm every venue API's dead man's switch, each on its own queue."""
    for venue_api in settings.VENUE_APIS:
        arm_dead_man_switch.apply_async(
            args=[venue_api], queue=venue_api, expires=settings.DEAD_MAN_SWITCH_REARM_SECONDS
        )


@signals.worker_ready.connect
def _reconcile_at_start(sender=None, **_kwargs) -> None:
    """A starting worker loads instruments and reconciles every venue API it consumes."""
    if not settings.EXECUTION_RECONCILE_ON_WORKER_START:
        return
    consumed = _consumed_queues(sender)
    for venue_api in settings.VENUE_APIS:
        if consumed is not None and venue_api not in consumed:
            continue
        try:
            sync_instruments.apply_async(args=[venue_api], queue=venue_api)
            reconcile_venue.apply_async(args=[venue_api], queue=venue_api)
        except Exception:  # broker hiccup: beat's next pass does the same
            log.exception("startup_reconcile_enqueue_failed", venue=venue_api)
    log.info("startup_reconcile_queued", venues=sorted(consumed or settings.VENUE_APIS))


def _consumed_queues(consumer) -> set[str] | None:
    try:
        return {queue.name for queue in consumer.task_consumer.queues}
    except AttributeError:
        return None

"""Submit: PENDING_NEW -> write-ahead attempt -> send -> classify -> the order's next state.

| venue answer                                  | order                     | then                      |
|-----------------------------------------------|---------------------------|---------------------------|
| acknowledged                                  | NEW / PARTIALLY_FILLED / FILLED / ... (adopted)      |
| duplicate client id ("already placed")        | adopt what the venue holds (query by client id)       |
| rejected (filters, balance, unknown symbol)   | REJECTED with the venue's reason                      |
| outcome unknown (timeout, 5xx, -1007, crash)  | SUBMIT_UNKNOWN            | resolver after the venue's visibility delay |
| refused before sending (breaker, budget, conn)| failover when allowed, else PENDING_NEW, retry later |
| retryable after sending (429, overloaded)     | PENDING_NEW               | retry later (same client id) |
| any of the above past the submit deadline     | FAILED (provably never placed)                        |
"""

from __future__ import annotations

import structlog
from django.db import transaction
from django.utils import timezone

from exchanges.errors import DuplicateOrderError
from monitoring.metrics import (
    ORDER_END_TO_END_SECONDS,
    ORDERS_FAILED,
    ORDERS_REJECTED,
    ORDERS_SUBMITTED,
)
from orders import lifecycle
from orders.errors import IllegalTransition, StaleOrder
from orders.execution import attempts, followups, router, venue
from orders.execution.adopt import order_adopt, venue_payload
from orders.execution.locks import order_lock
from orders.models import Actor, Order, OrderAttempt, OrderState
from reliability.errors import OutcomeUnknownError, RejectedError, VenueError

log = structlog.get_logger(__name__)
S = OrderState
SUBMIT = OrderAttempt.Operation.SUBMIT


# A submit that finds its order locked tries again this much later. The holder may be a worker
# sending this very order (the retry then finds it moved on) or a reconciliation pass that is
# only reading it and will not send it: dropped, the order would wait for the stale-order sweep
# (EXECUTION_STALE_SECONDS) with nobody sending it. Cancel and amend do the same (1 s).
BUSY_RETRY_SECONDS = 0.25


def order_submit(*, order_id: int) -> str:
    """Sends a PENDING_NEW order to its venue once; returns what happened (for logs/tests)."""
    with order_lock(order_id) as held:
        if not held:
            followups.again_when_free(
                "submit_order", order_id=order_id, countdown=BUSY_RETRY_SECONDS
            )
            return "busy"
        # One query: the order, its instrument and whether a submit is still `pending`.
        order = (
            Order.objects.select_related("instrument")
            .annotate(unfinished_submit=attempts.unfinished_exists(operation=SUBMIT))
            .filter(pk=order_id)
            .first()
        )
        if order is None or order.state != S.PENDING_NEW:
            return "noop"
        lost = attempts.unfinished(order, operation=SUBMIT) if order.unfinished_submit else []
        if lost:
            attempts.mark_lost(lost, why="worker lost between write-ahead and answer")
            return mark_unknown(order, actor=Actor.WORKER, why="a previous worker died mid-send")
        if past_deadline(order):
            return fail(order, why="submit deadline passed before any venue acknowledged it")
        return _send(order)


def _send(order: Order) -> str:
    adapter = venue.adapter_for_order(order)
    request = venue.place_request(order)
    summary = venue.summary(request)
    try:
        with attempts.write_ahead(order, operation=SUBMIT, request=summary) as log_:
            venue_order = adapter.place_order(request)
            log_.response = venue_payload(venue_order)
    except DuplicateOrderError:
        return _adopt_duplicate(order, adapter)
    except RejectedError as exc:
        if exc.sent is False and getattr(exc, "call", None) is None:
            attempts.record_not_sent(order, operation=SUBMIT, error=exc, request=summary)
        return reject(order, exc)
    except OutcomeUnknownError as exc:
        return mark_unknown(order, actor=Actor.WORKER, why=f"outcome unknown: {exc}")
    except VenueError as exc:
        attempts.record_not_sent(order, operation=SUBMIT, error=exc, request=summary)
        return _refused(order, exc)
    except Exception:
        order.refresh_from_db()
        if order.state == S.PENDING_NEW and attempts.may_be_at_venue(order):
            mark_unknown(order, actor=Actor.WORKER, why="interrupted after the request was sent")
        raise
    adoption = order_adopt(
        order=order,
        venue_order=venue_order,
        adapter=adapter,
        actor=Actor.WORKER,
        reason=f"acknowledged by {order.venue_api}",
    )
    if "state" in adoption.corrections:
        ORDERS_SUBMITTED.labels(venue=order.venue_api, order_type=order.type).inc()
        elapsed = (timezone.now() - order.created_at).total_seconds()
        ORDER_END_TO_END_SECONDS.labels(venue=order.venue_api).observe(max(0.0, elapsed))
    return "acknowledged"


def _adopt_duplicate(order: Order, adapter) -> str:
    """The venue already holds this client id: it is our order. Adopt it; never re-mint."""
    try:
        venue_order = venue.query_order(order, adapter, by_client_id_only=True)
    except VenueError as exc:
        return mark_unknown(order, actor=Actor.WORKER, why=f"duplicate id, query failed: {exc}")
    if venue_order is None:  # not visible yet: the resolver looks again after the delay
        return mark_unknown(order, actor=Actor.WORKER, why="duplicate id, not visible yet")
    order_adopt(
        order=order,
        venue_order=venue_order,
        adapter=adapter,
        actor=Actor.WORKER,
        reason="duplicate client order id: adopted the venue's order",
    )
    return "adopted"


def reject(order: Order, exc: VenueError) -> str:
    reason = f"rejected by {order.venue_api}: {exc}"
    if not _move(order, S.REJECTED, reason=reason, fields={"reject_reason": str(exc)[:2000]}):
        return "stale"
    ORDERS_REJECTED.labels(venue=order.venue_api, order_type=order.type).inc()
    return "rejected"


def mark_unknown(order: Order, *, actor: str, why: str) -> str:
    """SUBMIT_UNKNOWN, and the resolver (reconcile_order) once the venue's delay has passed."""
    fields = {"unknown_since": order.unknown_since or timezone.now()}
    with transaction.atomic():
        if not _move(order, S.SUBMIT_UNKNOWN, reason=why, fields=fields, actor=actor):
            return "stale"
        followups.schedule(
            "reconcile_order",
            order_id=order.pk,
            queue=order.venue_api,
            countdown=venue.visibility_delay(order.venue_api),
        )
    return "unknown"


def fail(order: Order, *, why: str) -> str:
    if not _move(order, S.FAILED, reason=why, fields={"reject_reason": why}):
        return "stale"
    ORDERS_FAILED.labels(venue=order.venue_api, order_type=order.type).inc()
    return "failed"


def _refused(order: Order, exc: VenueError) -> str:
    """Definitely not executed: fail over (before the first send only), retry later or fail."""
    if not exc.sent and router.order_failover(order=order, error=exc):
        return "failover"
    if past_deadline(order):
        return fail(order, why=f"submit deadline passed; last refusal: {exc}")
    tries = order.attempts.filter(operation=SUBMIT).count()
    delay = followups.retry_delay(tries, at_least=exc.retry_after)
    followups.schedule("submit_order", order_id=order.pk, queue=order.venue_api, countdown=delay)
    log.info("submit_retry_later", order_id=order.pk, delay=delay, error=str(exc))
    return "retry"


def past_deadline(order: Order) -> bool:
    return order.submit_deadline is not None and timezone.now() >= order.submit_deadline


def _move(order: Order, to_state: str, *, reason: str, fields=None, actor=Actor.WORKER) -> bool:
    """One transition from the state we read; False when another process moved it first."""
    try:
        lifecycle.transition(order, to_state, actor=actor, reason=reason, fields=fields)
    except (StaleOrder, IllegalTransition):
        order.refresh_from_db()
        log.info("submit_lost_race", order_id=order.pk, state=order.state, wanted=to_state)
        return False
    return True

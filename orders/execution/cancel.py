"""Cancel: a requested cancel reaches the venue, and its confirmation is recorded.

| situation                                     | order                                          |
|-----------------------------------------------|------------------------------------------------|
| no submit can have reached a venue            | CANCELED at once (nothing to cancel there)     |
| venue acknowledges the cancel                 | CANCELED, confirmed by `ack`                   |
| venue: unknown order -> query by client id    | its state: FILLED with its fills, CANCELED ... |
| venue: unknown, and not visible after delay   | CANCELED (it never reached the venue)          |
| cancel refused (business)                     | back to NEW / PARTIALLY_FILLED, with the reason|
| outcome unknown / retryable / refused         | stays, cancel sent again later (idempotent)    |

The cancel is tracked on the order: cancel_requested_at (set by the API), cancel_confirmed_at
and cancel_confirm_source (`ack` when the venue answered our cancel, `reconcile` when a query
or reconciliation found it cancelled).
"""

from __future__ import annotations

import structlog
from django.db import transaction
from django.utils import timezone

from exchanges.errors import UnknownOrderError
from orders import lifecycle
from orders.errors import IllegalTransition, StaleOrder
from orders.execution import attempts, followups, venue
from orders.execution.adopt import order_adopt, venue_payload
from orders.execution.locks import order_lock
from orders.models import Actor, Order, OrderAttempt, OrderState
from reliability.errors import RejectedError, VenueError

log = structlog.get_logger(__name__)
S = OrderState
CANCEL = OrderAttempt.Operation.CANCEL
ACK = Order.CancelSource.ACK
RECONCILE = Order.CancelSource.RECONCILE


def cancel_outstanding(order: Order) -> bool:
    """A cancel was requested, is not confirmed, and the order can still change."""
    return (
        order.cancel_requested_at is not None
        and order.cancel_confirmed_at is None
        and order.state in (S.PENDING_CANCEL, S.NEW, S.PARTIALLY_FILLED)
    )


def order_cancel_send(*, order_id: int) -> str:
    with order_lock(order_id) as held:
        if not held:
            followups.again_when_free("cancel_order", order_id=order_id, countdown=1)
            return "busy"
        order = Order.objects.select_related("instrument").filter(pk=order_id).first()
        if order is None or not cancel_outstanding(order):
            return "noop"
        if not attempts.may_be_at_venue(order):
            return _confirm(order, why="cancelled before it reached the venue", source=ACK)
        return _send(order)


def _send(order: Order) -> str:
    adapter = venue.adapter_for_order(order)
    summary = {
        "venue_symbol": order.instrument.venue_symbol,
        "client_order_id": order.client_order_id,
        "venue_order_id": order.venue_order_id,
    }
    try:
        with attempts.write_ahead(order, operation=CANCEL, request=summary) as log_:
            venue_order = adapter.cancel_order(
                venue_symbol=order.instrument.venue_symbol,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
            )
            log_.response = venue_payload(venue_order)
    except UnknownOrderError:
        return settle_from_venue(order, adapter, actor=Actor.WORKER)
    except RejectedError as exc:
        return _refused(order, adapter, exc)
    except VenueError as exc:
        attempts.record_not_sent(order, operation=CANCEL, error=exc, request=summary)
        return _later(order, exc)
    order_adopt(
        order=order,
        venue_order=venue_order,
        adapter=adapter,
        actor=Actor.WORKER,
        reason="cancel acknowledged",
        cancel_source=ACK,
    )
    if cancel_outstanding(order):  # the answer did not finish it: look again soon
        followups.schedule("reconcile_order", order_id=order.pk, queue=order.venue_api, countdown=1)
    return "acknowledged"


def settle_from_venue(order: Order, adapter, *, actor: str) -> str:
    """The venue does not know the order under that id any more: ask what became of it."""
    try:
        venue_order = venue.query_order(order, adapter)
    except VenueError as exc:
        return _later(order, exc)
    if venue_order is not None:
        order_adopt(
            order=order,
            venue_order=venue_order,
            adapter=adapter,
            actor=actor,
            reason="cancel: the venue reports the order finished",
            cancel_source=RECONCILE,
        )
        if cancel_outstanding(order):  # still open at the venue: cancel again
            return _later(order, None)
        return "settled"
    sent_at = attempts.last_send_at(order)
    wait = venue.visibility_delay(order.venue_api)
    if sent_at is not None and (timezone.now() - sent_at).total_seconds() < wait:
        return _later(order, None, at_least=wait)
    return _confirm(order, why="the venue does not know the order: it never reached it", source=ACK)


def _refused(order: Order, adapter, exc: VenueError) -> str:
    """A business refusal of the cancel: learn the order's state; if still open, go back."""
    try:
        venue_order = venue.query_order(order, adapter)
    except VenueError as query_error:
        return _later(order, query_error)
    if venue_order is None:
        return settle_from_venue(order, adapter, actor=Actor.WORKER)
    order_adopt(
        order=order,
        venue_order=venue_order,
        adapter=adapter,
        actor=Actor.WORKER,
        reason="cancel refused; the venue's state",
        cancel_source=RECONCILE,
    )
    if not cancel_outstanding(order):
        return "settled"
    back = S.PARTIALLY_FILLED if order.filled_quantity > 0 else S.NEW
    reason = f"cancel refused by {order.venue_api}: {exc}"
    if not lifecycle.can_transition(order.state, back):
        return _refused_in_place(order, reason)
    try:
        lifecycle.transition(
            order, back, actor=Actor.WORKER, reason=reason, fields={"cancel_requested_at": None}
        )
    except (StaleOrder, IllegalTransition):
        return "stale"
    return "refused"


def _refused_in_place(order: Order, reason: str) -> str:
    """Refused while the order already shows its open state (NEW has no self-edge): the
    refusal is an event that changes no state, and the cancel request ends with it."""
    with transaction.atomic():
        ended = Order.objects.filter(pk=order.pk, version=order.version, state=order.state).update(
            cancel_requested_at=None
        )
        if not ended:
            return "stale"
        lifecycle.note(order, actor=Actor.WORKER, reason=reason)
    order.cancel_requested_at = None
    return "refused"


def _confirm(order: Order, *, why: str, source: str) -> str:
    try:
        lifecycle.transition(
            order,
            S.CANCELED,
            actor=Actor.WORKER,
            reason=why,
            fields={"cancel_confirmed_at": timezone.now(), "cancel_confirm_source": source},
        )
    except (StaleOrder, IllegalTransition):
        return "stale"
    return "cancelled"


def _later(order: Order, exc: VenueError | None, *, at_least: float = 0.0) -> str:
    tries = order.attempts.filter(operation=CANCEL).count()
    retry_after = max(at_least, (exc.retry_after or 0.0) if exc else 0.0)
    delay = followups.retry_delay(tries, at_least=retry_after)
    followups.schedule("cancel_order", order_id=order.pk, queue=order.venue_api, countdown=delay)
    log.info("cancel_retry_later", order_id=order.pk, delay=delay, error=str(exc) if exc else None)
    return "retry"

"""Amend: a PENDING_AMEND order's target quantity/price reaches the venue.

The request carries absolute targets (new total quantity, new price), so sending it again
after an unknown outcome cannot over-apply it.

| venue answer                        | order                                                   |
|-------------------------------------|---------------------------------------------------------|
| amended                             | NEW / PARTIALLY_FILLED with the new quantity and price  |
| the venue finished the order        | its state (FILLED / CANCELED, e.g. futures cancel-on-amend) |
| refused (filters, unknown order)    | back to NEW / PARTIALLY_FILLED, unchanged, with the reason |
| outcome unknown / retryable         | stays PENDING_AMEND, sent again later (reconciliation checks first) |
"""

from __future__ import annotations

import structlog

from exchanges.errors import UnknownOrderError
from exchanges.types import VenueOrder, VenueStatus
from orders import lifecycle
from orders.errors import IllegalTransition, StaleOrder
from orders.execution import attempts, followups, venue
from orders.execution.adopt import order_adopt, venue_payload
from orders.execution.locks import order_lock
from orders.models import Actor, Order, OrderAttempt, OrderState
from reliability.errors import RejectedError, VenueError

log = structlog.get_logger(__name__)
S = OrderState
AMEND = OrderAttempt.Operation.AMEND
_OPEN = (VenueStatus.NEW, VenueStatus.PARTIALLY_FILLED)


def order_amend_send(*, order_id: int) -> str:
    with order_lock(order_id) as held:
        if not held:
            followups.again_when_free("amend_order", order_id=order_id, countdown=1)
            return "busy"
        order = Order.objects.select_related("instrument").filter(pk=order_id).first()
        if order is None or order.state != S.PENDING_AMEND:
            return "noop"
        return _send(order)


def _send(order: Order) -> str:
    adapter = venue.adapter_for_order(order)
    request = venue.amend_request(order)
    summary = venue.summary(request)
    try:
        with attempts.write_ahead(order, operation=AMEND, request=summary) as log_:
            venue_order = adapter.amend_order(request)
            log_.response = venue_payload(venue_order)
    except (UnknownOrderError, RejectedError) as exc:
        return _refused(order, adapter, exc)
    except VenueError as exc:
        attempts.record_not_sent(order, operation=AMEND, error=exc, request=summary)
        tries = order.attempts.filter(operation=AMEND).count()
        delay = followups.retry_delay(tries, at_least=exc.retry_after)
        # Reconciliation looks first (did the unknown amend land?), then sends it again.
        followups.schedule(
            "reconcile_order", order_id=order.pk, queue=order.venue_api, countdown=delay
        )
        return "retry"
    return finish_amend(
        order, venue_order, adapter, actor=Actor.WORKER, reason="amend acknowledged"
    )


def amend_landed(order: Order, venue_order: VenueOrder) -> bool:
    """Does the venue's order already carry the amend's targets?"""
    return (
        order.amend_quantity is not None
        and venue_order.quantity == order.amend_quantity
        and (order.amend_price is None or venue_order.price == order.amend_price)
    )


def finish_amend(order: Order, venue_order: VenueOrder, adapter, *, actor: str, reason: str) -> str:
    """The venue's order after an amend: adopt its new quantity/price (or its end)."""
    if venue_order.status not in _OPEN:
        order_adopt(
            order=order, venue_order=venue_order, adapter=adapter, actor=actor, reason=reason
        )
        return "finished"
    to_state = S.PARTIALLY_FILLED if venue_order.filled_quantity > 0 else S.NEW
    fields = {
        "quantity": venue_order.quantity,
        "price": venue_order.price,
        "amend_quantity": None,
        "amend_price": None,
        "venue_order_id": venue_order.venue_order_id or order.venue_order_id,
    }
    if venue_order.client_order_id and venue_order.client_order_id != order.client_order_id:
        fields["client_order_id"] = venue_order.client_order_id  # spot cancelReplace
    if venue_order.filled_quantity > order.filled_quantity:
        fields["filled_quantity"] = venue_order.filled_quantity
    try:
        lifecycle.transition(
            order,
            to_state,
            actor=actor,
            reason=f"{reason}: quantity {venue_order.quantity}, price {venue_order.price}",
            payload=venue_payload(venue_order),
            fields=fields,
        )
    except (StaleOrder, IllegalTransition):
        order.refresh_from_db()
        return "stale"
    order_adopt(order=order, venue_order=venue_order, adapter=adapter, actor=actor, reason=reason)
    return "amended"


def _refused(order: Order, adapter, exc: VenueError) -> str:
    """Refused: the order is unchanged at the venue (or gone). Learn which, then go back."""
    try:
        venue_order = venue.query_order(order, adapter)
    except VenueError:
        venue_order = None
    if venue_order is not None and venue_order.status not in _OPEN:
        order_adopt(
            order=order,
            venue_order=venue_order,
            adapter=adapter,
            actor=Actor.WORKER,
            reason=f"amend refused ({exc}); the venue's state",
        )
        return "finished"
    return revert_amend(order, why=f"amend refused by {order.venue_api}: {exc}")


def revert_amend(order: Order, *, why: str) -> str:
    back = S.PARTIALLY_FILLED if order.filled_quantity > 0 else S.NEW
    try:
        lifecycle.transition(
            order,
            back,
            actor=Actor.WORKER,
            reason=why,
            fields={"amend_quantity": None, "amend_price": None},
        )
    except (StaleOrder, IllegalTransition):
        order.refresh_from_db()
        return "stale"
    return "refused"

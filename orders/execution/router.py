"""Failover router: a new order moves to a fallback venue only before its first send.

An order names fallback venues (`failover: ["bitmex"]`). When its venue refused before sending
(breaker open, connection refused, rate-limit cooldown: VenueError.sent is False) and no
attempt of it ever left the platform, it moves to the next fallback venue that lists an
equivalent instrument (the same unified symbol: same base, quote, settle asset, market type
and expiry) whose breaker lets calls through, with its quantity converted through the
contract sizes and valid there. The move is a PENDING_NEW -> PENDING_NEW transition recorded
as an event; the submit task is queued on the new venue's queue. Never after an
outcome-unknown attempt: that order may exist at the first venue.
"""

from __future__ import annotations

from decimal import Decimal

import structlog
from django.db import transaction

from orders import lifecycle
from orders.errors import IllegalTransition, OrderInvalid, StaleOrder
from orders.execution import attempts, followups
from orders.models import Actor, Instrument, Order, OrderState
from reliability.errors import VenueError

log = structlog.get_logger(__name__)


def failover_target(order: Order) -> tuple[Instrument, Decimal] | None:
    """The next fallback instrument and the order's quantity there, or None."""
    from orders import validation
    from reliability.breaker import breaker_for

    tried = set(order.attempts.values_list("venue_api", flat=True)) | {order.venue_api}
    source = order.instrument
    for venue in order.failover_venues:
        candidate = (
            Instrument.objects.filter(venue=venue, symbol=source.symbol, active=True)
            .exclude(venue_api__in=tried)
            .first()
        )
        if candidate is None or not _equivalent(source, candidate):
            continue
        quantity = order.quantity * source.contract_size / candidate.contract_size
        try:
            validation.check_active(candidate)
            validation.check_order(
                candidate, order_type=order.type, quantity=quantity, price=order.price
            )
        except OrderInvalid as exc:
            log.info("failover_candidate_invalid", order_id=order.pk, venue=venue, error=str(exc))
            continue
        if not breaker_for(candidate.venue_api).allows_calls():
            continue
        return candidate, quantity.normalize()
    return None


def _equivalent(a: Instrument, b: Instrument) -> bool:
    return (a.base, a.quote, a.settle, a.market_type, a.expiry) == (
        b.base,
        b.quote,
        b.settle,
        b.market_type,
        b.expiry,
    )


def order_failover(*, order: Order, error: VenueError) -> bool:
    """Moves a never-sent PENDING_NEW order to its next fallback venue; False if it cannot."""
    if error.sent or not order.failover_venues or order.state != OrderState.PENDING_NEW:
        return False
    if attempts.ever_sent(order):
        return False  # only before the first send
    target = failover_target(order)
    if target is None:
        return False
    instrument, quantity = target
    source = order.venue_api
    try:
        with transaction.atomic():
            lifecycle.transition(
                order,
                OrderState.PENDING_NEW,
                actor=Actor.WORKER,
                reason=(
                    f"failover from {source} to {instrument.venue_api}: "
                    f"{source} refused before sending ({error})"
                ),
                payload={"from": source, "to": instrument.venue_api, "error": str(error)},
                fields={
                    "venue": instrument.venue,
                    "venue_api": instrument.venue_api,
                    "instrument": instrument,
                    "quantity": quantity,
                },
            )
            followups.schedule("submit_order", order_id=order.pk, queue=instrument.venue_api)
    except (StaleOrder, IllegalTransition):
        order.refresh_from_db()
        return False
    log.info("order_failover", order_id=order.pk, source=source, target=instrument.venue_api)
    return True

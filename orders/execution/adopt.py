"""Bring one order in line with what its venue says about it (a VenueOrder) and its fills.

Used by every path that learns the venue's truth: a submit acknowledgement, a duplicate-id
rejection, the outcome-unknown resolver, a cancel answer and reconciliation. Transitions go
through orders.lifecycle (compare-and-set, one event each); a lost race re-reads and decides
again. Fills are applied by trade id, so a repeated report changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from exchanges.types import VenueFill, VenueOrder, VenueStatus
from orders import lifecycle
from orders.errors import StaleOrder
from orders.models import Order, OrderState
from reliability.errors import VenueError

log = structlog.get_logger(__name__)
S = OrderState
_STALE_RETRIES = 4
_OPEN_AT_VENUE = (VenueStatus.NEW, VenueStatus.PARTIALLY_FILLED)


@dataclass
class Adoption:
    """What adopting changed: 'state', 'venue_order_id', 'filled_quantity', 'fill' (per fill)."""

    corrections: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.corrections)


def venue_payload(venue_order: VenueOrder) -> dict:
    """The part of a venue's answer kept in an event (decimals as strings)."""
    return {
        "venue_api": venue_order.venue_api,
        "venue_order_id": venue_order.venue_order_id,
        "client_order_id": venue_order.client_order_id,
        "status": venue_order.status.value,
        "quantity": str(venue_order.quantity),
        "filled_quantity": str(venue_order.filled_quantity),
        "price": None if venue_order.price is None else str(venue_order.price),
        "average_price": (
            None if venue_order.average_price is None else str(venue_order.average_price)
        ),
    }


def order_adopt(
    *,
    order: Order,
    venue_order: VenueOrder,
    adapter,
    actor: str,
    reason: str,
    cancel_source: str | None = None,
) -> Adoption:
    """Moves `order` to the venue's state (and venue id, cumulative fill), then records fills.

    cancel_source ('ack' or 'reconcile') says how a CANCELED reached us, for the cancel
    confirmation of an order whose cancel was requested.
    """
    trades = _venue_trades(order, venue_order, adapter)  # HTTP first, outside the transaction
    adoption = Adoption()
    for _ in range(_STALE_RETRIES):
        try:
            with transaction.atomic():  # the state and its fills become visible together
                corrections = _adopt_state(order, venue_order, actor, reason, cancel_source)
                corrections += _apply_trades(order, venue_order, trades, actor)
            adoption.corrections += corrections
            break
        except StaleOrder:
            order.refresh_from_db()
    return adoption


def target_state(order: Order, venue_order: VenueOrder) -> str | None:
    """The state the order should move to, or None when the venue's answer changes nothing."""
    current, status = order.state, venue_order.status
    if current in lifecycle.TERMINAL_STATES:
        return None  # late fills still arrive through _adopt_fills
    if status == VenueStatus.FILLED:
        return S.FILLED
    if status in (VenueStatus.CANCELED, VenueStatus.EXPIRED):
        return status.value
    if status == VenueStatus.REJECTED:
        return S.REJECTED if current in (S.PENDING_NEW, S.SUBMIT_UNKNOWN) else None
    # Open at the venue.
    if current in (S.PENDING_NEW, S.SUBMIT_UNKNOWN):
        return status.value
    if current in (S.PENDING_CANCEL, S.PENDING_AMEND):
        return None  # the operation in flight decides; fills still apply
    if venue_order.filled_quantity > order.filled_quantity:
        return S.PARTIALLY_FILLED
    return None


def _adopt_state(order, venue_order, actor, reason, cancel_source) -> list[str]:
    to_state = target_state(order, venue_order)
    if to_state is None:
        return []
    fields: dict = {}
    corrections = ["state"] if to_state != order.state else []
    if venue_order.venue_order_id and order.venue_order_id != venue_order.venue_order_id:
        fields["venue_order_id"] = venue_order.venue_order_id
        corrections.append("venue_order_id")
    if venue_order.filled_quantity > order.filled_quantity:
        fields["filled_quantity"] = venue_order.filled_quantity
        if venue_order.average_price is not None:
            fields["average_price"] = venue_order.average_price
        corrections.append("filled_quantity")
    if to_state == S.REJECTED:
        fields["reject_reason"] = "the venue reports the order rejected"
    if to_state == S.CANCELED and order.cancel_requested_at and not order.cancel_confirmed_at:
        fields["cancel_confirmed_at"] = timezone.now()
        fields["cancel_confirm_source"] = cancel_source or Order.CancelSource.RECONCILE
    lifecycle.transition(
        order,
        to_state,
        actor=actor,
        reason=f"{reason}: venue says {venue_order.status.value}",
        payload=venue_payload(venue_order),
        fields=fields,
    )
    return corrections


def _venue_trades(order: Order, venue_order: VenueOrder, adapter) -> list[VenueFill]:
    """The venue's trades of this order when some are not recorded yet (else no call)."""
    if venue_order.filled_quantity <= 0 or not venue_order.venue_order_id:
        return []
    recorded = sum(order.fills.values_list("quantity", flat=True), Decimal(0))
    if recorded >= venue_order.filled_quantity:
        return []
    try:
        trades = adapter.fills(
            venue_symbol=venue_order.venue_symbol, venue_order_id=venue_order.venue_order_id
        )
    except VenueError as exc:
        log.warning("fills_unavailable", order_id=order.pk, error=str(exc))
        return []
    return [t for t in trades if t.venue_order_id == venue_order.venue_order_id]


def _apply_trades(order: Order, venue_order: VenueOrder, trades, actor: str) -> list[str]:
    """Records the trades not recorded yet (by trade id; a repeat changes nothing)."""
    if not trades:
        return []  # nothing to record: no query for the recorded trade ids either
    known = set(order.fills.values_list("trade_id", flat=True))
    corrections = []
    for trade in sorted(trades, key=lambda t: (t.ts, t.trade_id)):
        if trade.trade_id in known:
            continue
        lifecycle.apply_fill(
            order,
            trade_id=trade.trade_id,
            quantity=trade.quantity,
            price=trade.price,
            fee=trade.fee,
            fee_asset=trade.fee_asset,
            ts=trade.ts,
            actor=actor,
            payload={"trade_id": trade.trade_id, "venue_order_id": trade.venue_order_id},
        )
        known.add(trade.trade_id)
        corrections.append("fill")
    return corrections

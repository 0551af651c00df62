"""From an Order row to the adapter's unified requests, and per-venue execution settings."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from enum import Enum

from django.conf import settings

from exchanges.types import AmendOrder, OrderType, PlaceOrder, Side, TimeInForce
from orders.models import Order
from orders.models.instruments import venue_of


def adapter_for_order(order: Order):
    from exchanges.registry import adapter_for

    return adapter_for(order.venue_api)


def query_order(order: Order, adapter, *, by_client_id_only: bool = False):
    """What the venue says about the order now (None: proven absent). Raises VenueError."""
    return adapter.get_order(
        venue_symbol=order.instrument.venue_symbol,
        client_order_id=order.client_order_id,
        venue_order_id=None if by_client_id_only else order.venue_order_id,
    )


def place_request(order: Order) -> PlaceOrder:
    return PlaceOrder(
        venue_symbol=order.instrument.venue_symbol,
        client_order_id=order.client_order_id,
        side=Side(order.side),
        order_type=OrderType(order.type),
        quantity=order.quantity,
        price=order.price,
        time_in_force=TimeInForce(order.time_in_force) if order.time_in_force else None,
    )


def amend_request(order: Order) -> AmendOrder:
    """Absolute targets (new total quantity and price), so resending the same amend is safe.

    Binance spot amends in place only to reduce the quantity at the same price (keepPriority,
    chosen by the adapter when the price is left out); anything else is a cancelReplace whose
    replacement needs a new client id: a deterministic one, so a resent amend reuses it.
    """
    quantity = order.amend_quantity if order.amend_quantity is not None else order.quantity
    price = order.amend_price if order.amend_price is not None else order.price
    spot = order.venue_api == "binance.spot"
    return AmendOrder(
        venue_symbol=order.instrument.venue_symbol,
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,
        quantity=quantity,
        price=None if spot and price == order.price and quantity < order.quantity else price,
        side=Side(order.side),
        order_type=OrderType(order.type),
        time_in_force=TimeInForce(order.time_in_force) if order.time_in_force else None,
        new_client_order_id=replacement_client_order_id(order) if spot else None,
    )


def replacement_client_order_id(order: Order) -> str:
    """<first 30 chars of the order's client id>-a<n>, n = this amend's number (<= 36 chars)."""
    from orders.models import OrderEvent, OrderState

    number = OrderEvent.objects.filter(order=order, to_state=OrderState.PENDING_AMEND).count()
    return f"{order.client_order_id[:30]}-a{number}"


def summary(request) -> dict:
    """A request dataclass as JSON-ready data (decimals and enums as strings; no secrets)."""
    out = {}
    for key, value in dataclasses.asdict(request).items():
        if isinstance(value, Decimal | Enum):
            value = str(value.value if isinstance(value, Enum) else value)
        out[key] = value
    return out


def visibility_delay(venue_api: str) -> float:
    """Seconds after a send before "not found by client id" proves the order absent."""
    return settings.EXECUTION_VISIBILITY_DELAY_SECONDS[venue_of(venue_api)]

"""Orders sent straight through a venue adapter, as a worker sends them but without the
database: the detection benchmark's order flow, and the reliability tests that race or time
orders against the emulator, use the same resting limit order."""

from __future__ import annotations

from decimal import Decimal


def limit_order(venue_symbol: str, client_order_id: str, *, quantity: str, price: str):
    """A GTC limit buy of `quantity` at `price` (far below the emulator's market: it rests)."""
    from exchanges.types import OrderType, PlaceOrder, Side, TimeInForce

    return PlaceOrder(
        venue_symbol=venue_symbol,
        client_order_id=client_order_id,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


def place(adapter, request) -> str:
    """ "placed", or the name of the error the adapter raised (the failures are the point)."""
    try:
        adapter.place_order(request)
    except Exception as exc:
        return type(exc).__name__
    return "placed"

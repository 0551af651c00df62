"""Shared helpers for the adapter tests against the exchange emulator."""

from __future__ import annotations

import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from exchanges.base import VenueAdapter
from exchanges.types import InstrumentInfo, MarketType, OrderType, PlaceOrder, Side

BASES = ("BTC", "ETH", "SOL")


def client_id(tag: str = "t") -> str:
    return f"{tag}-{uuid.uuid4().hex[:24]}"


def round_to(value: Decimal, step: Decimal, rounding) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=rounding) * step


def resting_price(info: InstrumentInfo, reference: Decimal, side: Side) -> Decimal:
    """5 % away from the reference on the passive side, on the tick grid."""
    if side is Side.BUY:
        return round_to(reference * Decimal("0.95"), info.tick_size, ROUND_FLOOR)
    return round_to(reference * Decimal("1.05"), info.tick_size, ROUND_CEILING)


def order_quantity(info: InstrumentInfo, price: Decimal, lots: int = 1) -> Decimal:
    """The smallest quantity the filters accept (notional included), times `lots`."""
    quantity = max(info.min_qty, info.step_size)
    if info.market_type is not MarketType.INVERSE and info.min_notional > 0:
        needed = info.min_notional * Decimal("1.1") / price
        quantity = max(quantity, round_to(needed, info.step_size, ROUND_CEILING))
    return quantity * lots


def reference_price(emulator, info: InstrumentInfo) -> Decimal:
    quote = emulator.price(info.venue_symbol, info.venue_api)
    return Decimal(str(quote["price"]))


def limit_order(
    emulator, info: InstrumentInfo, *, side: Side = Side.BUY, lots: int = 1, tag: str = "lim"
) -> PlaceOrder:
    price = resting_price(info, reference_price(emulator, info), side)
    return PlaceOrder(
        venue_symbol=info.venue_symbol,
        client_order_id=client_id(tag),
        side=side,
        order_type=OrderType.LIMIT,
        quantity=order_quantity(info, price, lots),
        price=price,
    )


def market_order(
    emulator, info: InstrumentInfo, *, side: Side = Side.BUY, tag: str = "mkt"
) -> PlaceOrder:
    price = reference_price(emulator, info)
    return PlaceOrder(
        venue_symbol=info.venue_symbol,
        client_order_id=client_id(tag),
        side=side,
        order_type=OrderType.MARKET,
        quantity=order_quantity(info, price),
    )


def instruments_by_symbol(adapter: VenueAdapter) -> dict[str, InstrumentInfo]:
    return {info.symbol: info for info in adapter.instruments() if info.active}


def traded(adapter: VenueAdapter, base: str) -> list[InstrumentInfo]:
    """Every active instrument of the venue API with this base asset."""
    return [info for info in adapter.instruments() if info.active and info.base == base]

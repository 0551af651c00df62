"""Checks an order against its instrument's venue rules; each failure names the rule broken.

Rules (the `rule` in the error's details): decimal, precision, positive, step_size, min_qty,
max_qty, tick_size, min_notional, price_required, price_forbidden, tif_forbidden_for_market,
unknown_exchange, unknown_symbol, instrument_inactive, failover.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import timezone

from exchanges.types import MarketType, OrderType
from orders.errors import OrderInvalid
from orders.instrument_cache import active_instrument
from orders.models import VENUES, Instrument
from orders.models.fields import DECIMAL_PLACES, MAX_DIGITS


def fmt(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: 100, 0.001."""
    return format(value.normalize(), "f")


def to_decimal(value, field: str) -> Decimal:
    """A Decimal from a Decimal, str or int; floats (and bools) are refused."""
    if value is None or value == "":
        raise OrderInvalid(field, "is required", rule="required")
    if isinstance(value, bool | float):
        raise OrderInvalid(
            field, 'must be a decimal string such as "0.010", not a float', rule="decimal"
        )
    try:
        number = Decimal(value) if isinstance(value, int | str) else value
    except InvalidOperation:
        raise OrderInvalid(field, f"{value!r} is not a decimal number", rule="decimal") from None
    if not isinstance(number, Decimal) or not number.is_finite():
        raise OrderInvalid(field, f"{value!r} is not a decimal number", rule="decimal")
    check_precision(number, field)
    return number


def check_precision(value: Decimal, field: str) -> None:
    _sign, digits, exponent = value.normalize().as_tuple()
    places = max(0, -exponent)
    integer_digits = max(0, len(digits) + exponent)
    if places > DECIMAL_PLACES or integer_digits > MAX_DIGITS - DECIMAL_PLACES:
        raise OrderInvalid(
            field,
            f"{fmt(value)} has more than {DECIMAL_PLACES} decimal places or "
            f"{MAX_DIGITS - DECIMAL_PLACES} integer digits",
            rule="precision",
        )


def resolve_instrument(exchange: str, symbol: str) -> Instrument:
    if exchange not in VENUES:
        raise OrderInvalid(
            "exchange",
            f"unknown exchange {exchange!r}; one of {', '.join(VENUES)}",
            rule="unknown_exchange",
        )
    instrument = active_instrument(exchange, symbol)
    if instrument is None:
        known = Instrument.objects.filter(venue=exchange, symbol=symbol).exists()
        if known:
            raise OrderInvalid(
                "symbol", f"{symbol} on {exchange} is not tradable now", rule="instrument_inactive"
            )
        raise OrderInvalid(
            "symbol", f"{exchange} lists no instrument {symbol!r}", rule="unknown_symbol"
        )
    check_active(instrument)
    return instrument


def check_active(instrument: Instrument) -> None:
    expired = instrument.expiry is not None and instrument.expiry <= timezone.now()
    if not instrument.active or expired:
        raise OrderInvalid(
            "symbol",
            f"{instrument.symbol} on {instrument.venue} is not tradable now",
            rule="instrument_inactive",
        )


def check_order(
    instrument: Instrument, *, order_type: str, quantity: Decimal, price: Decimal | None
) -> None:
    check_quantity(instrument, quantity)
    if order_type == OrderType.LIMIT:
        if price is None:
            raise OrderInvalid("price", "is required for a limit order", rule="price_required")
        check_price(instrument, price)
    elif price is not None:
        raise OrderInvalid("price", "must be omitted for a market order", rule="price_forbidden")
    check_notional(instrument, quantity, price)


def check_quantity(instrument: Instrument, quantity: Decimal) -> None:
    if quantity <= 0:
        raise OrderInvalid("quantity", "must be positive", rule="positive")
    if quantity % instrument.step_size != 0:
        raise OrderInvalid(
            "quantity",
            f"{fmt(quantity)} is not a multiple of the step size {fmt(instrument.step_size)}",
            rule="step_size",
        )
    if quantity < instrument.min_qty:
        raise OrderInvalid(
            "quantity",
            f"{fmt(quantity)} is below the minimum quantity {fmt(instrument.min_qty)}",
            rule="min_qty",
        )
    if instrument.max_qty is not None and quantity > instrument.max_qty:
        raise OrderInvalid(
            "quantity",
            f"{fmt(quantity)} is above the maximum quantity {fmt(instrument.max_qty)}",
            rule="max_qty",
        )


def check_price(instrument: Instrument, price: Decimal) -> None:
    if price <= 0:
        raise OrderInvalid("price", "must be positive", rule="positive")
    if price % instrument.tick_size != 0:
        raise OrderInvalid(
            "price",
            f"{fmt(price)} is not a multiple of the tick size {fmt(instrument.tick_size)}",
            rule="tick_size",
        )


def notional(instrument: Instrument, quantity: Decimal, price: Decimal | None) -> Decimal | None:
    """The order's value in the quote currency; None when it needs a price we do not have."""
    if instrument.market_type == MarketType.INVERSE:
        return quantity * instrument.contract_size  # contracts of contract_size USD each
    if price is None:
        return None  # market order: the venue checks against its own mark/average price
    return quantity * price * instrument.contract_size


def check_notional(instrument: Instrument, quantity: Decimal, price: Decimal | None) -> None:
    value = notional(instrument, quantity, price)
    if value is not None and value < instrument.min_notional:
        raise OrderInvalid(
            "quantity",
            f"order value {fmt(value)} {instrument.quote} is below the minimum notional "
            f"{fmt(instrument.min_notional)} {instrument.quote}",
            rule="min_notional",
        )


def check_failover(instrument: Instrument, venues: list[str]) -> list[str]:
    """Fallback venues, each listing an active instrument with the same unified symbol."""
    result: list[str] = []
    for venue in venues:
        if venue not in VENUES:
            raise OrderInvalid("failover", f"unknown exchange {venue!r}", rule="failover")
        if venue == instrument.venue or venue in result:
            raise OrderInvalid(
                "failover", f"{venue} is the order's own or a repeated venue", rule="failover"
            )
        if active_instrument(venue, instrument.symbol) is None:
            raise OrderInvalid(
                "failover", f"{venue} lists no active {instrument.symbol}", rule="failover"
            )
        result.append(venue)
    return result

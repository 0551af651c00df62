"""Decimal helpers: parsing wire strings, tick/step arithmetic, venue number formats. No float."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)


def parse_decimal(text: object) -> Decimal | None:
    """A finite Decimal from a wire value, or None when it is not a number."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return value if value.is_finite() else None


def is_multiple(value: Decimal, step: Decimal, origin: Decimal = ZERO) -> bool:
    """`(value - origin) % step == 0` (step 0 disables the rule, as Binance filters do)."""
    if step == ZERO:
        return True
    return (value - origin) % step == ZERO


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def fixed(value: Decimal | None, places: int) -> str:
    """Binance style: a fixed number of decimals ("65000.10000000")."""
    if value is None:
        value = ZERO
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def plain(value: Decimal) -> str:
    """Shortest exact decimal string without exponent ("0.001", "65000")."""
    text = f"{value.normalize():f}"
    return text


def decimals_of(step: Decimal) -> int:
    """Number of decimal places a tick or step size has (0.010 -> 2, 1 -> 0)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))

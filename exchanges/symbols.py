"""Unified (ccxt) symbols: BASE/QUOTE[:SETTLE[-YYMMDD]] (shared/DESIGN.md §4).

BTC/USDT spot, BTC/USDT:USDT linear perpetual, BTC/USDT:USDT-251226 linear delivery,
BTC/USD:BTC inverse perpetual, BTC/USD:BTC-251226 inverse delivery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_UNIFIED = re.compile(
    r"^(?P<base>[A-Z0-9]+)/(?P<quote>[A-Z0-9]+)(?::(?P<settle>[A-Z0-9]+)(?:-(?P<expiry>\d{6}))?)?$"
)


@dataclass(frozen=True)
class UnifiedSymbol:
    base: str
    quote: str
    settle: str | None = None
    expiry: str | None = None  # YYMMDD (UTC date of delivery)

    def __str__(self) -> str:
        text = f"{self.base}/{self.quote}"
        if self.settle:
            text += f":{self.settle}"
            if self.expiry:
                text += f"-{self.expiry}"
        return text


def parse_unified(symbol: str) -> UnifiedSymbol:
    match = _UNIFIED.match(symbol)
    if not match:
        raise ValueError(f"not a unified symbol: {symbol!r} (e.g. BTC/USDT, BTC/USD:BTC-251226)")
    return UnifiedSymbol(**match.groupdict())


def unified_symbol(
    base: str, quote: str, settle: str | None = None, expiry: datetime | None = None
) -> str:
    return str(UnifiedSymbol(base, quote, settle, yymmdd(expiry) if expiry and settle else None))


def yymmdd(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%y%m%d")


def from_ms(value) -> datetime | None:
    """Binance epoch milliseconds -> aware UTC datetime (None for missing/zero)."""
    if value in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)

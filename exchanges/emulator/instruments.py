"""The instruments each emulated venue API lists (BTC, ETH, SOL), with realistic trading rules.

Tick/step sizes, minimum quantities and notionals follow the venues' own exchangeInfo and
/instrument payloads (shared/specs examples, live values where the examples are silent).
Delivery contracts are computed from the current date the way the venues list them:

- Binance USDⓈ-M and COIN-M: quarterly contracts expire on the last Friday of March, June,
  September and December at 08:00 UTC; the current and the next quarter are listed, named
  `<PAIR>_<YYMMDD>` with contractType CURRENT_QUARTER / NEXT_QUARTER.
- BitMEX: quarterly futures expire on the last Friday of the month at 12:00 UTC and are named
  root + month code + two-digit year (XBTZ26, XBTH27); the two nearest quarters are listed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchanges.emulator.numbers import decimals_of

D = Decimal
SPOT, USDM, COINM, BITMEX = "binance.spot", "binance.usdm", "binance.coinm", "bitmex"
BINANCE_APIS = (SPOT, USDM, COINM)
MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December
QUARTER_MONTHS = (3, 6, 9, 12)

# Reference prices the synthetic books start from (USD).
START_PRICES = {"BTC": D("65000"), "ETH": D("3500"), "SOL": D("150")}


@dataclass(frozen=True)
class Instrument:
    venue_api: str
    symbol: str
    base: str
    quote: str
    settle: str | None  # margin/settlement asset; None for spot
    kind: str  # "spot" | "perpetual" | "delivery"
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal  # 0 where the venue has no such rule
    contract_size: Decimal = Decimal(1)  # COIN-M: USD per contract
    inverse: bool = False
    quanto: bool = False
    contract_type: str | None = None  # Binance: PERPETUAL, CURRENT_QUARTER, NEXT_QUARTER
    delivery: datetime | None = None
    depth_unit: Decimal = Decimal(1)  # size of the first synthetic level, in order units
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def price_precision(self) -> int:
        return decimals_of(self.tick)

    @property
    def quantity_precision(self) -> int:
        return decimals_of(self.step)

    @property
    def pair(self) -> str:
        return self.extra.get("pair", self.base + self.quote)


def last_friday(year: int, month: int) -> int:
    last_day = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last_day)  # Monday 0 .. Friday 4
    return last_day - ((weekday - 4) % 7)


def quarter_expiries(now: datetime, hour: int, count: int = 2) -> list[datetime]:
    """The next `count` quarterly expiries strictly after `now` (last Friday, `hour`:00 UTC)."""
    found: list[datetime] = []
    year = now.year
    while len(found) < count:
        for month in QUARTER_MONTHS:
            expiry = datetime(year, month, last_friday(year, month), hour, tzinfo=UTC)
            if expiry > now and len(found) < count:
                found.append(expiry)
        year += 1
    return found


def _rules(tick, step, min_qty, max_qty, min_notional, depth_unit, **kw):
    return {
        "tick": D(tick),
        "step": D(step),
        "min_qty": D(min_qty),
        "max_qty": D(max_qty),
        "min_notional": D(min_notional),
        "depth_unit": D(depth_unit),
        **kw,
    }


SPOT_RULES = {
    "BTC": _rules("0.01", "0.00001", "0.00001", "9000", "5", "0.3"),
    "ETH": _rules("0.01", "0.0001", "0.0001", "9000", "5", "6"),
    "SOL": _rules("0.01", "0.001", "0.001", "9000", "5", "130"),
}
USDM_RULES = {
    ("BTC", "USDT"): _rules("0.10", "0.001", "0.001", "1000", "100", "0.3"),
    ("ETH", "USDT"): _rules("0.01", "0.001", "0.001", "10000", "20", "6"),
    ("SOL", "USDT"): _rules("0.0100", "1", "1", "1000000", "5", "130"),
    ("BTC", "USDC"): _rules("0.1", "0.001", "0.001", "1000", "5", "0.3"),
    ("ETH", "USDC"): _rules("0.01", "0.001", "0.001", "10000", "5", "6"),
    ("SOL", "USDC"): _rules("0.010", "0.01", "0.01", "1000000", "5", "130"),
}
USDM_DELIVERY_RULES = {
    "BTC": _rules("0.1", "0.001", "0.001", "500", "5", "0.3"),
    "ETH": _rules("0.01", "0.001", "0.001", "10000", "5", "6"),
}
COINM_RULES = {  # quantity in contracts; contract_size USD per contract
    "BTC": _rules("0.1", "1", "1", "1000000", "0", "200", contract_size=D(100)),
    "ETH": _rules("0.01", "1", "1", "1000000", "0", "2000", contract_size=D(10)),
    "SOL": _rules("0.01", "1", "1", "1000000", "0", "2000", contract_size=D(10)),
}


def binance_instruments(now: datetime) -> list[Instrument]:
    out: list[Instrument] = []
    for quote in ("USDT", "USDC"):
        for base, rules in SPOT_RULES.items():
            out.append(Instrument(SPOT, base + quote, base, quote, None, "spot", **rules))
    for (base, margin), rules in USDM_RULES.items():
        out.append(
            Instrument(
                USDM,
                base + margin,
                base,
                margin,
                margin,
                "perpetual",
                contract_type="PERPETUAL",
                **rules,
            )
        )
    expiries = quarter_expiries(now, hour=8)
    for base, rules in USDM_DELIVERY_RULES.items():
        for label, expiry in zip(("CURRENT_QUARTER", "NEXT_QUARTER"), expiries, strict=True):
            out.append(
                Instrument(
                    USDM,
                    f"{base}USDT_{expiry:%y%m%d}",
                    base,
                    "USDT",
                    "USDT",
                    "delivery",
                    contract_type=label,
                    delivery=expiry,
                    extra={"pair": base + "USDT"},
                    **rules,
                )
            )
    for base, rules in COINM_RULES.items():
        out.append(
            Instrument(
                COINM,
                f"{base}USD_PERP",
                base,
                "USD",
                base,
                "perpetual",
                inverse=True,
                contract_type="PERPETUAL",
                extra={"pair": base + "USD"},
                **rules,
            )
        )
        if base == "SOL":
            continue  # COIN-M lists SOL as a perpetual only
        for label, expiry in zip(("CURRENT_QUARTER", "NEXT_QUARTER"), expiries, strict=True):
            out.append(
                Instrument(
                    COINM,
                    f"{base}USD_{expiry:%y%m%d}",
                    base,
                    "USD",
                    base,
                    "delivery",
                    inverse=True,
                    contract_type=label,
                    delivery=expiry,
                    extra={"pair": base + "USD"},
                    **rules,
                )
            )
    return out


def _bitmex(
    symbol,
    root,
    quote,
    settle,
    kind,
    tick,
    lot,
    depth,
    *,
    typ,
    inverse=False,
    quanto=False,
    multiplier,
    utpm=None,
    expiry=None,
    max_qty="10000000",
):
    return Instrument(
        BITMEX,
        symbol,
        root,
        quote,
        settle,
        kind,
        tick=D(tick),
        step=D(lot),
        min_qty=D(lot),
        max_qty=D(max_qty),
        min_notional=D(0),
        inverse=inverse,
        quanto=quanto,
        delivery=expiry,
        depth_unit=D(depth),
        extra={
            "typ": typ,
            "multiplier": multiplier,
            "underlyingToPositionMultiplier": utpm,
            "rootSymbol": root,
        },
    )


def bitmex_instruments(now: datetime) -> list[Instrument]:
    out = [
        _bitmex(
            "XBTUSD",
            "XBT",
            "USD",
            "XBt",
            "perpetual",
            "0.1",
            "100",
            "20000",
            typ="FFWCSX",
            inverse=True,
            multiplier=-100000000,
        ),
        _bitmex(
            "ETHUSD",
            "ETH",
            "USD",
            "XBt",
            "perpetual",
            "0.05",
            "1",
            "500",
            typ="FFWCSX",
            quanto=True,
            multiplier=100,
        ),
        _bitmex(
            "SOLUSD",
            "SOL",
            "USD",
            "XBt",
            "perpetual",
            "0.01",
            "1",
            "2000",
            typ="FFWCSX",
            quanto=True,
            multiplier=10,
        ),
        _bitmex(
            "XBTUSDT",
            "XBT",
            "USDT",
            "USDt",
            "perpetual",
            "0.5",
            "1000",
            "300000",
            typ="FFWCSX",
            multiplier=1,
            utpm=1000000,
            max_qty="10000000000",
        ),
        _bitmex(
            "ETHUSDT",
            "ETH",
            "USDT",
            "USDt",
            "perpetual",
            "0.05",
            "1000",
            "6000000",
            typ="FFWCSX",
            multiplier=1,
            utpm=1000000,
            max_qty="100000000000",
        ),
        _bitmex(
            "SOLUSDT",
            "SOL",
            "USDT",
            "USDt",
            "perpetual",
            "0.01",
            "1000",
            "1300000",
            typ="FFWCSX",
            multiplier=1,
            utpm=10000,
            max_qty="100000000000",
        ),
    ]
    for expiry in quarter_expiries(now, hour=12):
        code = f"{MONTH_CODES[expiry.month - 1]}{expiry:%y}"
        out.append(
            _bitmex(
                f"XBT{code}",
                "XBT",
                "USD",
                "XBt",
                "delivery",
                "0.5",
                "100",
                "20000",
                typ="FFCCSX",
                inverse=True,
                multiplier=-100000000,
                expiry=expiry,
            )
        )
        out.append(
            _bitmex(
                f"ETH{code}",
                "ETH",
                "USD",
                "XBt",
                "delivery",
                "0.05",
                "1",
                "500",
                typ="FFCCSX",
                quanto=True,
                multiplier=100,
                expiry=expiry,
            )
        )
    return out


def listing_date(now: datetime) -> datetime:
    """When the emulator says a perpetual was listed (a fixed, plausible past date)."""
    return (now - timedelta(days=365 * 3)).replace(hour=8, minute=0, second=0, microsecond=0)

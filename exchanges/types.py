"""Unified types the venue adapters speak (never Django models).

Quantities are in the venue's order unit: base asset for spot and linear contracts quoted in
base (Binance USDⓈ-M, BitMEX linear), contracts for inverse/quanto (Binance COIN-M, XBTUSD).
Instrument.contract_size says what one unit is. Every number is a Decimal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

VENUE_APIS = ("binance.spot", "binance.usdm", "binance.coinm", "bitmex")


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"  # Binance GTX / LIMIT_MAKER, BitMEX ParticipateDoNotInitiate


class VenueStatus(enum.StrEnum):
    """The venue's order status mapped onto the platform's vocabulary."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class MarketType(enum.StrEnum):
    SPOT = "spot"
    LINEAR = "linear"  # margined and settled in the quote (USDT/USDC)
    INVERSE = "inverse"  # margined and settled in the base (coin-margined, XBTUSD)


@dataclass(frozen=True)
class InstrumentInfo:
    venue_api: str
    venue_symbol: str  # BTCUSDT, BTCUSD_PERP, XBTUSD, XBTZ25 ...
    symbol: str  # unified (ccxt): BTC/USDT, BTC/USDT:USDT, BTC/USD:BTC-251226 ...
    base: str
    quote: str
    settle: str | None  # None for spot
    market_type: MarketType
    expiry: datetime | None  # delivery contracts only
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    contract_size: Decimal = Decimal(1)
    max_qty: Decimal | None = None
    active: bool = True


@dataclass(frozen=True)
class PlaceOrder:
    venue_symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False


@dataclass(frozen=True)
class AmendOrder:
    venue_symbol: str
    client_order_id: str
    venue_order_id: str | None
    quantity: Decimal | None = None  # new total quantity
    price: Decimal | None = None
    # Binance spot cancelReplace needs the order's side/type and a fresh client id for the new
    # order; other venues amend in place and ignore these.
    side: Side | None = None
    order_type: OrderType | None = None
    time_in_force: TimeInForce | None = None
    new_client_order_id: str | None = None


@dataclass(frozen=True)
class VenueFill:
    venue_api: str
    trade_id: str  # unique per venue API
    venue_order_id: str
    client_order_id: str | None
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str | None
    ts: datetime


@dataclass(frozen=True)
class VenueOrder:
    """What the venue says about one order right now."""

    venue_api: str
    venue_symbol: str
    venue_order_id: str
    client_order_id: str | None
    status: VenueStatus
    side: Side
    order_type: OrderType
    quantity: Decimal
    filled_quantity: Decimal
    price: Decimal | None
    average_price: Decimal | None
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

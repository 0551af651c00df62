"""BitMEX <-> unified types: symbols, statuses, order types / time in force, orders, executions
and instruments (/api/v1/instrument).

Units: BitMEX orderQty is an integer number of contracts. For inverse (XBTUSD) and quanto
(ETHUSD) contracts the unified quantity is contracts too; for linear contracts (XBTUSDT) the
unified quantity is in the base asset (exchanges/types.py), and one contract is
1 / underlyingToPositionMultiplier of it (XBTUSDT: 1e6 contracts per XBT). Contract.units
converts both ways and refuses quantities that are not whole contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from exchanges.errors import InvalidRequestError
from exchanges.symbols import parse_unified, unified_symbol
from exchanges.types import (
    InstrumentInfo,
    MarketType,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
    VenueFill,
    VenueOrder,
    VenueStatus,
)

VENUE = "bitmex"

SIDES = {Side.BUY: "Buy", Side.SELL: "Sell"}
SIDES_FROM = {v: k for k, v in SIDES.items()}

STATUSES = {
    "New": VenueStatus.NEW,
    "PendingNew": VenueStatus.NEW,
    "PartiallyFilled": VenueStatus.PARTIALLY_FILLED,
    "Filled": VenueStatus.FILLED,
    "Canceled": VenueStatus.CANCELED,
    "Rejected": VenueStatus.REJECTED,
    "Expired": VenueStatus.EXPIRED,
    "DoneForDay": VenueStatus.EXPIRED,
}
# Transitional states keep the order's current canonical state (decided by cumQty).
TRANSITIONAL = {"PendingReplace", "PendingCancel", "Triggered", "Untriggered", "Stopped"}

ORDER_TYPES = {OrderType.LIMIT: "Limit", OrderType.MARKET: "Market"}
ORDER_TYPES_FROM = {
    "Limit": OrderType.LIMIT,
    "StopLimit": OrderType.LIMIT,
    "LimitIfTouched": OrderType.LIMIT,
    "Pegged": OrderType.LIMIT,
    "Market": OrderType.MARKET,
    "Stop": OrderType.MARKET,
    "MarketIfTouched": OrderType.MARKET,
}
TIME_IN_FORCE = {
    TimeInForce.GTC: "GoodTillCancel",
    TimeInForce.IOC: "ImmediateOrCancel",
    TimeInForce.FOK: "FillOrKill",
    TimeInForce.POST_ONLY: "GoodTillCancel",  # + execInst ParticipateDoNotInitiate
}
POST_ONLY = "ParticipateDoNotInitiate"
REDUCE_ONLY = "ReduceOnly"

# BitMEX currency codes -> unified asset codes, and the minor units they count in.
ASSETS = {"XBT": "BTC", "XBt": "BTC", "USDt": "USDT", "USDT": "USDT", "Gwei": "ETH", "GWEI": "ETH"}
MINOR_UNITS = {"XBt": Decimal(10) ** 8, "USDt": Decimal(10) ** 6, "Gwei": Decimal(10) ** 9}
MONTH_CODES = "FGHJKMNQUVXZ"
TRADED_TYPES = {"FFWCSX": "perpetual", "FFWCSF": "perpetual", "FFCCSX": "future"}


def dec(value) -> Decimal:
    return Decimal(str(value))


def asset(code: str | None) -> str | None:
    if code is None:
        return None
    return ASSETS.get(code, code.upper())


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- contracts and symbols ----------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """What the adapter must know about a symbol to convert quantities."""

    venue_symbol: str
    per_unit: Decimal = Decimal(1)  # BitMEX contracts per unified quantity unit

    @classmethod
    def from_instrument(cls, data: dict) -> Contract:
        linear = not data.get("isInverse") and not data.get("isQuanto")
        multiplier = data.get("underlyingToPositionMultiplier")
        per_unit = dec(multiplier) if linear and multiplier else Decimal(1)
        return cls(data["symbol"], per_unit)

    def to_contracts(self, quantity: Decimal) -> int:
        contracts = quantity * self.per_unit
        if contracts != contracts.to_integral_value() or contracts <= 0:
            raise InvalidRequestError(
                f"{quantity} is not a whole number of {self.venue_symbol} contracts "
                f"(1 contract = {1 / self.per_unit})",
                venue=VENUE,
                code="quantity_not_whole_contracts",
            )
        return int(contracts)

    def from_contracts(self, contracts) -> Decimal:
        if contracts in (None, ""):
            return Decimal(0)
        return dec(contracts) / self.per_unit


def _root(code: str) -> str:
    return "XBT" if code == "BTC" else code


def venue_symbol(symbol: str) -> str:
    """Unified -> BitMEX: BTC/USD:BTC -> XBTUSD, BTC/USDT:USDT -> XBTUSDT, ETH/USD:BTC -> ETHUSD
    (quanto), BTC/USD:BTC-251226 -> XBTZ25, BTC/USDT:USDT-251226 -> XBTUSDTZ25."""
    u = parse_unified(symbol)
    if not u.settle:
        raise ValueError(f"{symbol}: BitMEX spot is not traded here")
    base, quote = _root(u.base), u.quote
    if u.expiry:
        month = MONTH_CODES[int(u.expiry[2:4]) - 1]
        middle = "" if quote == "USD" else quote
        return f"{base}{middle}{month}{u.expiry[:2]}"
    return f"{base}{quote}"


def parse_instrument(data: dict) -> InstrumentInfo | None:
    """An /instrument entry -> InstrumentInfo; None for indices, spot and other kinds."""
    kind = TRADED_TYPES.get(data.get("typ", ""))
    if kind is None:
        return None
    contract = Contract.from_instrument(data)
    base = asset(data.get("underlying") or data.get("rootSymbol"))
    quote = asset(data["quoteCurrency"])
    settle = asset(data["settlCurrency"])
    expiry = parse_ts(data.get("expiry")) if kind == "future" else None
    linear = not data.get("isInverse") and not data.get("isQuanto")
    lot = contract.from_contracts(data.get("lotSize", 1))
    max_qty = data.get("maxOrderQty")
    return InstrumentInfo(
        venue_api=VENUE,
        venue_symbol=data["symbol"],
        symbol=unified_symbol(base, quote, settle, expiry),
        base=base,
        quote=quote,
        settle=settle,
        market_type=MarketType.LINEAR if linear else MarketType.INVERSE,
        expiry=expiry,
        tick_size=dec(data["tickSize"]),
        step_size=lot,
        min_qty=lot,
        min_notional=Decimal(0),
        contract_size=_contract_size(data, linear),
        max_qty=contract.from_contracts(max_qty) if max_qty else None,
        active=data.get("state") == "Open",
    )


def _contract_size(data: dict, linear: bool) -> Decimal:
    """Linear: 1 (quantities are base units). Inverse: quote per contract (XBTUSD: 1 USD).
    Quanto: settlement currency per contract per 1 of price (ETHUSD: 0.000001 XBT)."""
    if linear:
        return Decimal(1)
    multiplier = abs(dec(data.get("multiplier") or 1))
    if data.get("isQuanto"):
        return multiplier / MINOR_UNITS.get(data.get("settlCurrency"), Decimal(1))
    to_settle = abs(dec(data.get("underlyingToSettleMultiplier") or multiplier))
    return multiplier / to_settle


# --- orders -------------------------------------------------------------------------------------


def order_body(request: PlaceOrder, contract: Contract) -> dict:
    body: dict = {
        "symbol": request.venue_symbol,
        "side": SIDES[request.side],
        "orderQty": contract.to_contracts(request.quantity),
        "ordType": ORDER_TYPES[request.order_type],
        "clOrdID": request.client_order_id,
    }
    exec_inst = []
    if request.order_type is OrderType.LIMIT:
        if request.price is None:
            raise InvalidRequestError("a limit order needs a price", venue=VENUE)
        body["price"] = request.price
        body["timeInForce"] = TIME_IN_FORCE[request.time_in_force or TimeInForce.GTC]
        if request.time_in_force is TimeInForce.POST_ONLY:
            exec_inst.append(POST_ONLY)
    elif request.time_in_force is TimeInForce.POST_ONLY:
        raise InvalidRequestError("a market order cannot be post-only", venue=VENUE)
    elif request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        body["timeInForce"] = TIME_IN_FORCE[request.time_in_force]
    if request.reduce_only:
        exec_inst.append(REDUCE_ONLY)
    if exec_inst:
        body["execInst"] = ",".join(exec_inst)
    return body


def _status(data: dict, filled: Decimal) -> VenueStatus:
    name = data["ordStatus"]
    if name in STATUSES:
        return STATUSES[name]
    if name in TRANSITIONAL:
        return VenueStatus.PARTIALLY_FILLED if filled > 0 else VenueStatus.NEW
    raise KeyError(f"ordStatus {name!r}")


def parse_order(data: dict, contract: Contract) -> VenueOrder:
    try:
        filled = contract.from_contracts(data.get("cumQty"))
        avg = data.get("avgPx")
        price = data.get("price")
        return VenueOrder(
            venue_api=VENUE,
            venue_symbol=data["symbol"],
            venue_order_id=str(data["orderID"]),
            client_order_id=data.get("clOrdID") or None,
            status=_status(data, filled),
            side=SIDES_FROM[data["side"]],
            order_type=ORDER_TYPES_FROM[data["ordType"]],
            quantity=contract.from_contracts(data.get("orderQty")),
            filled_quantity=filled,
            price=dec(price) if price not in (None, 0) else None,
            average_price=dec(avg) if avg not in (None, 0) else None,
            created_at=parse_ts(data.get("transactTime")) or parse_ts(data.get("timestamp")),
            updated_at=parse_ts(data.get("timestamp")),
            raw=data,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"bitmex: unreadable order object ({exc!r})") from exc


def parse_execution(data: dict, contract: Contract) -> VenueFill:
    """An /execution entry with execType=Trade. execComm counts in the settlement currency's
    minor unit (XBt, USDt, Gwei)."""
    currency = data.get("settlCurrency")
    fee = dec(data.get("execComm") or 0) / MINOR_UNITS.get(currency, Decimal(1))
    return VenueFill(
        venue_api=VENUE,
        trade_id=str(data["execID"]),  # trdMatchID is shared by both sides of a self-trade
        venue_order_id=str(data["orderID"]),
        client_order_id=data.get("clOrdID") or None,
        quantity=contract.from_contracts(data["lastQty"]),
        price=dec(data["lastPx"]),
        fee=fee,
        fee_asset=asset(currency),
        ts=parse_ts(data.get("transactTime") or data.get("timestamp")),
    )

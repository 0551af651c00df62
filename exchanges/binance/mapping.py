"""Binance <-> unified types: symbols, statuses, order types / time in force, orders, fills and
instruments (exchangeInfo) for spot, USDⓈ-M and COIN-M."""

from __future__ import annotations

from decimal import Decimal

from exchanges.errors import InvalidRequestError
from exchanges.symbols import from_ms, parse_unified, unified_symbol
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

SPOT, USDM, COINM = "binance.spot", "binance.usdm", "binance.coinm"

SIDES = {Side.BUY: "BUY", Side.SELL: "SELL"}
SIDES_FROM = {v: k for k, v in SIDES.items()}

# Binance order status -> unified. PENDING_NEW (an order-list leg not yet working) is resting;
# PENDING_CANCEL is documented as unused; EXPIRED_IN_MATCH is an STP expiry.
STATUSES = {
    "NEW": VenueStatus.NEW,
    "PENDING_NEW": VenueStatus.NEW,
    "PARTIALLY_FILLED": VenueStatus.PARTIALLY_FILLED,
    "FILLED": VenueStatus.FILLED,
    "CANCELED": VenueStatus.CANCELED,
    "REJECTED": VenueStatus.REJECTED,
    "EXPIRED": VenueStatus.EXPIRED,
    "EXPIRED_IN_MATCH": VenueStatus.EXPIRED,
}
# Order types the platform does not place still appear in open-order lists; they are reported as
# the closest of LIMIT / MARKET (the raw payload keeps the truth).
ORDER_TYPES_FROM = {
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_LOSS_LIMIT": OrderType.LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.LIMIT,
    "STOP": OrderType.LIMIT,
    "TAKE_PROFIT": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP_LOSS": OrderType.MARKET,
    "STOP_MARKET": OrderType.MARKET,
    "TAKE_PROFIT_MARKET": OrderType.MARKET,
    "TRAILING_STOP_MARKET": OrderType.MARKET,
}
TIME_IN_FORCE = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "GTX",  # futures; spot uses type LIMIT_MAKER instead
}
TIME_IN_FORCE_FROM = {v: k for k, v in TIME_IN_FORCE.items()}


def dec(value) -> Decimal:
    return Decimal(str(value))


def _positive_or_none(value) -> Decimal | None:
    if value in (None, ""):
        return None
    number = dec(value)
    return number if number > 0 else None


# --- symbols ------------------------------------------------------------------------------------


def venue_symbol(venue_api: str, symbol: str) -> str:
    """Unified -> Binance: BTC/USDT -> BTCUSDT, BTC/USDT:USDT -> BTCUSDT,
    BTC/USDT:USDT-251226 -> BTCUSDT_251226, BTC/USD:BTC -> BTCUSD_PERP,
    BTC/USD:BTC-251226 -> BTCUSD_251226."""
    u = parse_unified(symbol)
    pair = f"{u.base}{u.quote}"
    if venue_api == SPOT:
        if u.settle:
            raise ValueError(f"{symbol} is a derivative; binance.spot lists spot pairs only")
        return pair
    if not u.settle:
        raise ValueError(f"{symbol} is a spot pair; {venue_api} lists contracts only")
    if venue_api == USDM:
        return f"{pair}_{u.expiry}" if u.expiry else pair
    if venue_api == COINM:
        return f"{pair}_{u.expiry}" if u.expiry else f"{pair}_PERP"
    raise ValueError(f"unknown Binance venue API {venue_api!r}")


# --- orders -------------------------------------------------------------------------------------


def order_params(venue_api: str, request: PlaceOrder) -> dict:
    """PlaceOrder -> POST .../order parameters (before timestamp and signature)."""
    params: dict = {
        "symbol": request.venue_symbol,
        "side": SIDES[request.side],
    }
    post_only = request.time_in_force is TimeInForce.POST_ONLY
    if request.order_type is OrderType.LIMIT:
        if request.price is None:
            raise InvalidRequestError("a limit order needs a price", venue=venue_api)
        if venue_api == SPOT and post_only:
            params["type"] = "LIMIT_MAKER"  # post-only on spot; takes no timeInForce
        else:
            params["type"] = "LIMIT"
            params["timeInForce"] = TIME_IN_FORCE[request.time_in_force or TimeInForce.GTC]
        params["quantity"] = request.quantity
        params["price"] = request.price
    else:
        if post_only:
            raise InvalidRequestError("a market order cannot be post-only", venue=venue_api)
        params["type"] = "MARKET"
        params["quantity"] = request.quantity
    if request.reduce_only:
        if venue_api == SPOT:
            raise InvalidRequestError("spot orders cannot be reduce-only", venue=venue_api)
        params["reduceOnly"] = "true"
    params["newClientOrderId"] = request.client_order_id
    # RESULT: the final state of MARKET / IOC / FOK orders in the response (futures default ACK).
    params["newOrderRespType"] = "RESULT"
    return params


def _average_price(venue_api: str, data: dict, filled: Decimal) -> Decimal | None:
    if "avgPrice" in data:
        return _positive_or_none(data["avgPrice"])
    quote = data.get("cummulativeQuoteQty", data.get("cumulativeQuoteQty"))
    if quote in (None, "") or filled <= 0:
        return None
    return dec(quote) / filled


def parse_order(
    venue_api: str, data: dict, *, client_id_field: str = "clientOrderId"
) -> VenueOrder:
    """An order object (new/query/cancel/modify/all/open responses; keepPriority's amendedOrder).

    Cancel responses put the cancel request's own id in clientOrderId and the order's id in
    origClientOrderId: pass client_id_field="origClientOrderId" for those.
    """
    try:
        status = STATUSES[data["status"]]
        filled = dec(data.get("executedQty", "0"))
        quantity = dec(data["origQty"] if "origQty" in data else data["qty"])
        created = from_ms(data.get("time") or data.get("transactTime") or data.get("workingTime"))
        updated = from_ms(data.get("updateTime") or data.get("transactTime")) or created
        return VenueOrder(
            venue_api=venue_api,
            venue_symbol=data["symbol"],
            venue_order_id=str(data["orderId"]),
            client_order_id=data.get(client_id_field) or data.get("clientOrderId"),
            status=status,
            side=SIDES_FROM[data["side"]],
            order_type=ORDER_TYPES_FROM[data["type"]],
            quantity=quantity,
            filled_quantity=filled,
            price=_positive_or_none(data.get("price")),
            average_price=_average_price(venue_api, data, filled),
            created_at=created,
            updated_at=updated,
            raw=data,
        )
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"{venue_api}: unreadable order object ({exc!r})") from exc


def parse_fill(venue_api: str, data: dict) -> VenueFill:
    """myTrades (spot) / userTrades (futures) entry."""
    return VenueFill(
        venue_api=venue_api,
        trade_id=str(data["id"]),
        venue_order_id=str(data["orderId"]),
        client_order_id=None,  # trades do not carry it
        quantity=dec(data["qty"]),
        price=dec(data["price"]),
        fee=dec(data.get("commission", "0")),
        fee_asset=data.get("commissionAsset"),
        ts=from_ms(data["time"]),
    )


# --- instruments --------------------------------------------------------------------------------

_DELIVERY = {"CURRENT_QUARTER", "NEXT_QUARTER", "CURRENT_MONTH", "NEXT_MONTH"}


def _filters(entry: dict) -> dict[str, dict]:
    return {f["filterType"]: f for f in entry.get("filters", [])}


def _min_notional(filters: dict[str, dict]) -> Decimal:
    if "NOTIONAL" in filters:
        return dec(filters["NOTIONAL"].get("minNotional", "0"))
    if "MIN_NOTIONAL" in filters:
        f = filters["MIN_NOTIONAL"]
        return dec(f.get("minNotional", f.get("notional", "0")))
    return Decimal(0)


def _common(entry: dict) -> dict:
    filters = _filters(entry)
    price, lot = filters.get("PRICE_FILTER", {}), filters.get("LOT_SIZE", {})
    max_qty = _positive_or_none(lot.get("maxQty"))
    return {
        "tick_size": dec(price.get("tickSize", "0")),
        "step_size": dec(lot.get("stepSize", "0")),
        "min_qty": dec(lot.get("minQty", "0")),
        "min_notional": _min_notional(filters),
        "max_qty": max_qty,
    }


def parse_spot_instrument(entry: dict) -> InstrumentInfo:
    base, quote = entry["baseAsset"], entry["quoteAsset"]
    return InstrumentInfo(
        venue_api=SPOT,
        venue_symbol=entry["symbol"],
        symbol=unified_symbol(base, quote),
        base=base,
        quote=quote,
        settle=None,
        market_type=MarketType.SPOT,
        expiry=None,
        active=entry.get("status") == "TRADING",
        **_common(entry),
    )


def parse_futures_instrument(venue_api: str, entry: dict) -> InstrumentInfo | None:
    """USDⓈ-M and COIN-M exchangeInfo symbols; None for contract kinds not traded here."""
    contract_type = entry.get("contractType")
    if contract_type != "PERPETUAL" and contract_type not in _DELIVERY:
        return None
    base, quote, settle = entry["baseAsset"], entry["quoteAsset"], entry["marginAsset"]
    expiry = from_ms(entry.get("deliveryDate")) if contract_type in _DELIVERY else None
    status = entry.get("status", entry.get("contractStatus"))
    inverse = venue_api == COINM
    return InstrumentInfo(
        venue_api=venue_api,
        venue_symbol=entry["symbol"],
        symbol=unified_symbol(base, quote, settle, expiry),
        base=base,
        quote=quote,
        settle=settle,
        market_type=MarketType.INVERSE if inverse else MarketType.LINEAR,
        expiry=expiry,
        contract_size=dec(entry.get("contractSize", 1)) if inverse else Decimal(1),
        active=status == "TRADING",
        **_common(entry),
    )


def parse_instruments(venue_api: str, exchange_info: dict) -> list[InstrumentInfo]:
    result = []
    for entry in exchange_info.get("symbols", []):
        if venue_api == SPOT:
            result.append(parse_spot_instrument(entry))
            continue
        info = parse_futures_instrument(venue_api, entry)
        if info is not None:
            result.append(info)
    return result

"""Binance USDⓈ-M `/fapi/v1` and COIN-M `/dapi/v1` (developers.binance.com derivatives docs).

Differences between the two that clients see: COIN-M quantities are contracts (`contractSize`
USD each), orders carry `pair` and `cumBase` instead of `cumQuote`, modify takes quantity *or*
price (USDⓈ-M needs both), allOrders takes at most 100 and COIN-M has no MIN_NOTIONAL.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from exchanges.emulator.binance import common
from exchanges.emulator.binance.site import BinanceError, Ctx, Endpoint, mandatory
from exchanges.emulator.book import BUY, CANCELED, SELL, Order
from exchanges.emulator.instruments import COINM, USDM, Instrument, listing_date
from exchanges.emulator.numbers import ZERO, decimals_of, fixed, is_multiple
from exchanges.emulator.venue import Trade

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
TIFS = ("GTC", "IOC", "FOK", "GTX")
UNSUPPORTED_TYPES = (
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
)
WEEK_MS = 7 * 86_400_000
ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
PERPETUAL_DELIVERY = 4133404800000  # what the venue shows as a perpetual's deliveryDate


def prefix(api: str) -> str:
    return "/fapi/v1" if api == USDM else "/dapi/v1"


def _max_price(inst: Instrument) -> Decimal:
    return Decimal("4529764") if inst.base == "BTC" else Decimal("306177")


# --- serialisation ------------------------------------------------------------------------
def order_json(ctx: Ctx, o: Order, *, with_time: bool = True, cum_qty: bool = False) -> dict:
    inst = ctx.venue.instruments[o.symbol]
    pp, qp = inst.price_precision, inst.quantity_precision
    average = o.average_price
    body = {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": fixed(o.price or ZERO, pp),
        "avgPrice": fixed(average or ZERO, max(pp, 5) if average is None else pp + 2),
        "origQty": fixed(o.quantity, qp),
        "executedQty": fixed(o.filled, qp),
    }
    if ctx.api == COINM:
        body["pair"] = inst.pair
        body["cumBase"] = fixed(_cum_base(ctx, o), 8)
    else:
        body["cumQuote"] = fixed(o.quote_filled, pp + qp)
    if cum_qty:
        body["cumQty"] = fixed(o.filled, qp)
    body.update(
        {
            "timeInForce": o.time_in_force,
            "type": o.type,
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side,
            "positionSide": o.extra.get("positionSide", "BOTH"),
            "stopPrice": fixed(ZERO, pp),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": o.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER" if ctx.api == USDM else "NONE",
        }
    )
    if ctx.api == USDM:
        body["goodTillDate"] = 0
    if with_time:
        body["time"] = o.created
    body["updateTime"] = o.updated
    return body


def _cum_base(ctx: Ctx, o: Order) -> Decimal:
    return sum((t.quote_quantity for t in ctx.venue.trades_by_order.get(o.order_id, ())), ZERO)


def trade_json(ctx: Ctx, t: Trade) -> dict:
    inst = ctx.venue.instruments[t.symbol]
    body = {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "side": t.side,
        "price": fixed(t.price, inst.price_precision),
        "qty": fixed(t.quantity, inst.quantity_precision),
        "realizedPnl": "0",
        "commission": fixed(t.commission, 8),
        "commissionAsset": t.commission_asset,
        "time": t.time,
        "positionSide": "BOTH",
        "buyer": t.side == BUY,
        "maker": t.is_maker,
    }
    if ctx.api == COINM:
        body["pair"] = inst.pair
        body["marginAsset"] = inst.settle
        body["baseQty"] = fixed(t.quote_quantity, 8)
    else:
        body["quoteQty"] = fixed(t.quote_quantity, inst.price_precision + inst.quantity_precision)
    return body


def symbol_json(ctx: Ctx, inst: Instrument) -> dict:
    pp, qp = inst.price_precision, inst.quantity_precision
    filters = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": fixed(inst.tick, pp),
            "maxPrice": fixed(_max_price(inst), pp),
            "tickSize": fixed(inst.tick, pp),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": fixed(inst.min_qty, qp),
            "maxQty": fixed(inst.max_qty, qp),
            "stepSize": fixed(inst.step, qp),
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": fixed(inst.min_qty, qp),
            "maxQty": fixed(inst.max_qty / 10, qp),
            "stepSize": fixed(inst.step, qp),
        },
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
    ]
    if ctx.api == USDM:
        filters.append({"filterType": "MIN_NOTIONAL", "notional": f"{inst.min_notional}"})
    filters.append(
        {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": "1.0500",
            "multiplierDown": "0.9500",
            "multiplierDecimal": "4",
        }
    )
    delivery = int(inst.delivery.timestamp() * 1000) if inst.delivery else PERPETUAL_DELIVERY
    body = {
        "symbol": inst.symbol,
        "pair": inst.pair,
        "contractType": inst.contract_type,
        "deliveryDate": delivery,
        "onboardDate": int(listing_date(ctx.site.started).timestamp() * 1000),
    }
    body["status" if ctx.api == USDM else "contractStatus"] = "TRADING"
    if ctx.api == COINM:
        body["contractSize"] = int(inst.contract_size)
    body.update(
        {
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": inst.base,
            "quoteAsset": inst.quote,
            "marginAsset": inst.settle,
            "pricePrecision": pp,
            "quantityPrecision": qp,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "filters": filters,
            # The docs' example says "OrderType"; the live API sends "orderTypes" (what ccxt
            # and other clients built on recorded answers read). Both, so either client works.
            "OrderType": ORDER_TYPES,
            "orderTypes": ORDER_TYPES,
            "timeInForce": list(TIFS),
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
        }
    )
    if ctx.api == COINM:
        body["equalQtyPrecision"] = 4
    else:
        body["settlePlan"] = 0
    return body


# --- validation ---------------------------------------------------------------------------
def _precision_error() -> BinanceError:
    return BinanceError(-1111, "Precision is over the maximum defined for this asset.")


def check_quantity(ctx: Ctx, inst: Instrument, quantity: Decimal) -> None:
    if quantity <= ZERO:
        raise BinanceError(-4003, "Quantity less than or equal to zero.")
    if decimals_of(quantity) > inst.quantity_precision:
        raise _precision_error()
    if quantity < inst.min_qty:
        raise BinanceError(-4004, "Quantity less than min quantity.")
    if quantity > inst.max_qty:
        raise BinanceError(-4005, "Quantity greater than max quantity.")
    if not is_multiple(quantity, inst.step, inst.min_qty):
        raise BinanceError(-4023, "Qty not increased by step size.")


def check_price(ctx: Ctx, inst: Instrument, price: Decimal) -> None:
    if price <= ZERO:
        raise BinanceError(-4013, "Price less than min price.")
    if decimals_of(price) > inst.price_precision:
        raise _precision_error()
    if price < inst.tick:
        raise BinanceError(-4013, "Price less than min price.")
    if price > _max_price(inst):
        raise BinanceError(-4016, f"Limit price can't be higher than {_max_price(inst)}.")
    if not is_multiple(price, inst.tick, inst.tick):
        raise BinanceError(-4014, "Price not increased by tick size.")


def check_notional(ctx: Ctx, inst: Instrument, price, quantity, reduce_only: bool) -> None:
    if ctx.api != USDM or reduce_only:
        return
    reference = price if price is not None else ctx.venue.book(inst.symbol).reference
    if reference * quantity < inst.min_notional:
        raise BinanceError(
            -4164,
            f"Order's notional must be no smaller than {inst.min_notional} (unless you choose "
            "reduce only).",
        )


def parse_new_order(ctx: Ctx, inst: Instrument) -> Order:
    side = ctx.require("side")
    if side not in (BUY, SELL):
        raise BinanceError(-1117, "Invalid side.")
    order_type = ctx.require("type")
    if order_type in UNSUPPORTED_TYPES:
        raise BinanceError(
            -4120,
            "Order type not supported for this endpoint. Please use the "
            "Algo Order API endpoints instead.",
        )
    if order_type not in ("LIMIT", "MARKET"):
        raise BinanceError(-1116, "Invalid orderType.")
    quantity = ctx.decimal("quantity", required=True)
    price = ctx.decimal("price")
    tif = ctx.get("timeInForce")
    if order_type == "LIMIT":
        if tif is None:
            raise mandatory("timeInForce")
        if tif not in TIFS:
            raise BinanceError(-1115, "Invalid timeInForce.")
        if price is None:
            raise mandatory("price")
        check_price(ctx, inst, price)
    else:
        if price is not None:
            raise BinanceError(-1106, "Parameter 'price' sent when not required.")
        tif = "GTC"
    check_quantity(ctx, inst, quantity)
    reduce_only = (ctx.get("reduceOnly") or "false").lower() == "true"
    check_notional(ctx, inst, price, quantity, reduce_only)
    cid = ctx.get("newClientOrderId")
    if cid is None:
        cid = ctx.venue.new_client_id()
    elif not CLIENT_ID.match(cid):
        raise BinanceError(-4015, "Client order id is not valid.")
    return common.unplaced_order(
        ctx,
        inst,
        client_order_id=cid,
        side=side,
        type=order_type,
        time_in_force=tif,
        price=price,
        quantity=quantity,
        post_only=tif == "GTX",
        reduce_only=reduce_only,
        extra={"positionSide": ctx.get("positionSide") or "BOTH"},
    )


# --- endpoints ----------------------------------------------------------------------------
def exchange_info(ctx: Ctx):
    limiter = ctx.site.limiters[ctx.api]
    body = {
        "timezone": "UTC",
        "serverTime": ctx.now,
        "rateLimits": [w.as_json() for w in limiter.limits.windows],
        "exchangeFilters": [],
    }
    if ctx.api == USDM:
        body["assets"] = [
            {"asset": a, "marginAvailable": True, "autoAssetExchange": "0"}
            for a in ("USDT", "USDC", "BTC")
        ]
    body["symbols"] = [symbol_json(ctx, i) for i in ctx.venue.instruments.values()]
    return body


def _depth_weight(params: dict) -> int:
    raw = str(params.get("limit") or "500")
    limit = int(raw) if raw.isdigit() else 500
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def depth(ctx: Ctx):
    inst = common.instrument(ctx)
    limit = ctx.integer("limit", 500)
    if limit not in common.DEPTH_LIMITS_FUTURES:
        raise BinanceError(-1130, "Invalid data sent for a parameter.")
    body: dict = {"lastUpdateId": ctx.venue.update_id(), "E": ctx.now, "T": ctx.now}
    if ctx.api == COINM:
        body.update({"symbol": inst.symbol, "pair": inst.pair})
    body.update(common.depth_levels(ctx, inst, limit))
    return body


def ticker_price(ctx: Ctx):
    chosen = [common.instrument(ctx)] if ctx.get("symbol") else ctx.venue.instruments.values()
    rows = []
    for inst in chosen:
        row = {"symbol": inst.symbol}
        if ctx.api == COINM:
            row["ps"] = inst.pair
        row["price"] = fixed(common.last_price(ctx, inst), inst.price_precision)
        row["time"] = ctx.now
        rows.append(row)
    return rows[0] if ctx.get("symbol") and ctx.api == USDM else rows


def book_ticker(ctx: Ctx):
    chosen = [common.instrument(ctx)] if ctx.get("symbol") else ctx.venue.instruments.values()
    rows = []
    for inst in chosen:
        (bid, bid_qty), (ask, ask_qty) = common.best_quotes(ctx, inst)
        pp, qp = inst.price_precision, inst.quantity_precision
        row = {"symbol": inst.symbol}
        if ctx.api == COINM:
            row["pair"] = inst.pair
        row.update(
            {
                "bidPrice": fixed(bid, pp),
                "bidQty": fixed(bid_qty, qp),
                "askPrice": fixed(ask, pp),
                "askQty": fixed(ask_qty, qp),
                "time": ctx.now,
            }
        )
        rows.append(row)
    return rows[0] if ctx.get("symbol") and ctx.api == USDM else rows


def new_order(ctx: Ctx):
    inst = common.instrument(ctx)
    order = parse_new_order(ctx, inst)
    resp_type = ctx.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise BinanceError(-1177, "Invalid newOrderRespType.")
    venue = ctx.venue
    if venue.open_order_with_client_id(order.client_order_id) is not None:
        raise BinanceError(-4116, "clientOrderId is duplicated")
    if order.post_only and venue.would_take(order.side, order.symbol, order.price):
        raise BinanceError(
            -5022,
            "Due to the order could not be executed as maker, the Post "
            "Only order will be rejected. The order will not be recorded in the "
            "order history",
        )
    if order.time_in_force == "FOK" and not venue.can_fill(order):
        raise BinanceError(
            -5021,
            "Due to the order could not be filled immediately, the FOK "
            "order has been rejected. The order will not be recorded in the "
            "order history",
        )
    order.order_id = venue.new_order_id()
    if resp_type == "ACK":
        # The venue acknowledges before matching: ACK shows the order as it arrived.
        order.created = order.updated = venue.clock()
        ack = order_json(ctx, dataclasses.replace(order), with_time=False, cum_qty=True)
        venue.submit(order)
        return ack
    venue.submit(order)
    return order_json(ctx, order, with_time=False, cum_qty=True)


def query_order(ctx: Ctx):
    return order_json(ctx, common.queried_order(ctx))


def _cancel(ctx: Ctx, order: Order) -> dict:
    if not order.is_open:
        raise common.unknown_order()
    ctx.venue.cancel(order, CANCELED)
    body = order_json(ctx, order, with_time=False, cum_qty=True)
    if ctx.api == USDM:
        del body["avgPrice"]  # the USDⓈ-M Cancel Order answer has no avgPrice (docs example)
    return body


def cancel_order(ctx: Ctx):
    inst = common.instrument(ctx)
    order = common.lookup_order(ctx, inst, missing=common.unknown_order())
    return _cancel(ctx, order)


def cancel_all(ctx: Ctx):
    inst = common.instrument(ctx)
    for order in ctx.venue.open_orders(inst.symbol):
        ctx.venue.cancel(order, CANCELED)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def modify_order(ctx: Ctx):
    inst = common.instrument(ctx)
    order = common.lookup_order(ctx, inst, missing=common.no_such_order())
    side = ctx.require("side")
    if ctx.api == USDM:
        quantity = ctx.decimal("quantity", required=True)
        price = ctx.decimal("price", required=True)
    else:
        quantity, price = ctx.decimal("quantity"), ctx.decimal("price")
        if quantity is None and price is None:
            raise BinanceError(
                -1102, "Param 'quantity' or 'price' must be sent, but both were empty/null!"
            )
    if side != order.side:
        raise BinanceError(-1117, "Invalid side.")
    if not order.is_open:
        raise BinanceError(-2013, "Order does not exist.")
    if order.type != "LIMIT":
        raise BinanceError(-1116, "Invalid orderType.")  # only LIMIT orders can be modified
    if quantity is not None:
        check_quantity(ctx, inst, quantity)
    if price is not None:
        check_price(ctx, inst, price)
    new_qty = quantity if quantity is not None else order.quantity
    new_price = price if price is not None else order.price
    if new_qty == order.quantity and new_price == order.price:
        raise BinanceError(-5027, "No need to modify the order.")
    check_notional(ctx, inst, new_price, new_qty, order.reduce_only)
    venue = ctx.venue
    if order.filled and new_qty <= order.filled:
        venue.cancel(order, CANCELED)  # the venue cancels instead of modifying
    elif order.post_only and venue.would_take(order.side, order.symbol, new_price):
        venue.cancel(order, CANCELED)
    else:
        venue.amend(order, quantity=new_qty, price=new_price, keep_priority=False)
    return order_json(ctx, order, with_time=False, cum_qty=True)


def open_orders(ctx: Ctx):
    return [order_json(ctx, o) for o in common.open_orders_asked(ctx)]


def _symbol_or_pair(ctx: Ctx) -> set[str]:
    if ctx.api == COINM and not ctx.get("symbol") and ctx.get("pair"):
        pair = ctx.get("pair")
        symbols = {i.symbol for i in ctx.venue.instruments.values() if i.pair == pair}
        if not symbols:
            raise BinanceError(-1121, "Invalid symbol.")
        return symbols
    return {common.instrument(ctx).symbol}


def all_orders(ctx: Ctx):
    symbols = _symbol_or_pair(ctx)
    start, end = common.time_window(ctx, WEEK_MS, "168 hours", default_span_ms=WEEK_MS)
    limit = (
        common.limit_param(ctx, 50, 100) if ctx.api == COINM else common.limit_param(ctx, 500, 1000)
    )
    chosen = common.order_history(ctx, symbols, start=start, end=end, limit=limit)
    return [order_json(ctx, o) for o in chosen]


def user_trades(ctx: Ctx):
    symbols = _symbol_or_pair(ctx)
    start, end = common.time_window(ctx, WEEK_MS, "168 hours", default_span_ms=WEEK_MS)
    limit = common.limit_param(ctx, 500, 1000)
    chosen = common.trade_history(ctx, symbols, start=start, end=end, limit=limit)
    return [trade_json(ctx, t) for t in chosen]


def countdown_cancel_all(ctx: Ctx):
    inst = common.instrument(ctx)
    countdown = ctx.integer("countdownTime")
    if countdown is None:
        raise mandatory("countdownTime")
    ctx.site.arm_countdown(ctx.api, inst.symbol, countdown)
    return {"symbol": inst.symbol, "countdownTime": str(countdown)}


def endpoints(api: str) -> list[Endpoint]:
    p = prefix(api)
    coin = api == COINM

    def e(method, path, handler, **kw):
        return Endpoint(api, method, p + path, handler, **kw)

    return [
        e("GET", "/ping", common.ping),
        e("GET", "/time", common.server_time),
        e("GET", "/exchangeInfo", exchange_info),
        e("GET", "/depth", depth, weight=_depth_weight),
        e("GET", "/ticker/price", ticker_price, weight=lambda q: 1 if q.get("symbol") else 2),
        e("GET", "/ticker/bookTicker", book_ticker, weight=lambda q: 2 if q.get("symbol") else 5),
        e("POST", "/order", new_order, signed=True, new_order=True, weight=0 if coin else 1),
        e("PUT", "/order", modify_order, signed=True, weight=1),
        e("GET", "/order", query_order, signed=True),
        e("DELETE", "/order", cancel_order, signed=True),
        e("DELETE", "/allOpenOrders", cancel_all, signed=True),
        e(
            "GET",
            "/openOrders",
            open_orders,
            signed=True,
            weight=lambda q: 1 if q.get("symbol") else 40,
        ),
        e(
            "GET",
            "/allOrders",
            all_orders,
            signed=True,
            weight=(lambda q: 20 if q.get("symbol") else 40) if coin else 5,
        ),
        e(
            "GET",
            "/userTrades",
            user_trades,
            signed=True,
            weight=(lambda q: 20 if q.get("symbol") else 40) if coin else 5,
        ),
        e("POST", "/countdownCancelAll", countdown_cancel_all, signed=True, weight=10),
    ]

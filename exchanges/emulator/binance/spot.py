"""Binance spot `/api/v3` (rest-api.md of binance-spot-api-docs)."""

from __future__ import annotations

import re
from decimal import Decimal

from exchanges.emulator.binance import common
from exchanges.emulator.binance.site import BinanceError, Ctx, Endpoint, mandatory
from exchanges.emulator.book import BUY, CANCELED, NEW, SELL, Order
from exchanges.emulator.instruments import SPOT, Instrument
from exchanges.emulator.numbers import ZERO, fixed, floor_to, is_multiple
from exchanges.emulator.venue import Trade

API = SPOT
P = 8  # spot prints every decimal with 8 places
CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
UNSUPPORTED_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
TIFS = ("GTC", "IOC", "FOK")
MAX_PRICE = Decimal("1000000")
DAY_MS = 86_400_000


# --- serialisation ------------------------------------------------------------------------
def _f(value: Decimal | None) -> str:
    return fixed(value, P)


def order_json(o: Order) -> dict:
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": _f(o.price),
        "origQty": _f(o.quantity),
        "executedQty": _f(o.filled),
        "cummulativeQuoteQty": _f(o.quote_filled),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "stopPrice": _f(ZERO),
        "icebergQty": _f(ZERO),
        "time": o.created,
        "updateTime": o.updated,
        "isWorking": True,
        "workingTime": o.created,
        "origQuoteOrderQty": _f(o.extra.get("quoteOrderQty", ZERO)),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def result_json(o: Order, transact_time: int) -> dict:
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "transactTime": transact_time,
        "price": _f(o.price),
        "origQty": _f(o.quantity),
        "executedQty": _f(o.filled),
        "origQuoteOrderQty": _f(o.extra.get("quoteOrderQty", ZERO)),
        "cummulativeQuoteQty": _f(o.quote_filled),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "workingTime": o.created,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def new_order_json(o: Order, trades: list[Trade], resp_type: str) -> dict:
    if resp_type == "ACK":
        return {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_order_id,
            "transactTime": o.created,
        }
    body = result_json(o, o.created)
    if resp_type == "FULL":
        body["fills"] = [
            {
                "price": _f(t.price),
                "qty": _f(t.quantity),
                "commission": _f(t.commission),
                "commissionAsset": t.commission_asset,
                "tradeId": t.trade_id,
            }
            for t in trades
            if t.order_id == o.order_id
        ]
    return body


def cancel_json(o: Order, cancel_client_id: str, now: int) -> dict:
    body = result_json(o, now)
    body.pop("workingTime")
    body["origClientOrderId"] = o.client_order_id
    body["clientOrderId"] = cancel_client_id
    return {
        "symbol": body.pop("symbol"),
        "origClientOrderId": body.pop("origClientOrderId"),
        **body,
    }


def trade_json(t: Trade) -> dict:
    return {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "orderListId": -1,
        "price": _f(t.price),
        "qty": _f(t.quantity),
        "quoteQty": _f(t.quote_quantity),
        "commission": _f(t.commission),
        "commissionAsset": t.commission_asset,
        "time": t.time,
        "isBuyer": t.side == BUY,
        "isMaker": t.is_maker,
        "isBestMatch": True,
    }


def symbol_json(inst: Instrument) -> dict:
    return {
        "symbol": inst.symbol,
        "status": "TRADING",
        "baseAsset": inst.base,
        "baseAssetPrecision": 8,
        "quoteAsset": inst.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _f(inst.tick),
                "maxPrice": _f(MAX_PRICE),
                "tickSize": _f(inst.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _f(inst.min_qty),
                "maxQty": _f(inst.max_qty),
                "stepSize": _f(inst.step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": _f(ZERO),
                "maxQty": _f(inst.max_qty / 10),
                "stepSize": _f(ZERO),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": _f(inst.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


# --- validation ---------------------------------------------------------------------------
def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def check_filters(ctx: Ctx, inst: Instrument, order_type: str, price, quantity) -> None:
    if price is not None and (
        price < inst.tick or price > MAX_PRICE or not is_multiple(price, inst.tick)
    ):
        raise filter_failure("PRICE_FILTER")
    if order_type == "MARKET":
        if quantity > inst.max_qty / 10:
            raise filter_failure("MARKET_LOT_SIZE")
        if quantity < inst.min_qty or not is_multiple(quantity, inst.step, inst.min_qty):
            raise filter_failure("LOT_SIZE")
    elif (
        quantity < inst.min_qty
        or quantity > inst.max_qty
        or not is_multiple(quantity, inst.step, inst.min_qty)
    ):
        raise filter_failure("LOT_SIZE")
    reference = price if price is not None else ctx.venue.book(inst.symbol).reference
    if reference * quantity < inst.min_notional:
        raise filter_failure("NOTIONAL")


def client_id(ctx: Ctx, name: str = "newClientOrderId") -> str:
    value = ctx.get(name)
    if value is None:
        return ctx.venue.new_client_id()
    if not CLIENT_ID.match(value):
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^[a-zA-Z0-9-_]{1,36}$'.",
        )
    return value


def parse_new_order(ctx: Ctx, inst: Instrument, prefix: str = "") -> Order:
    """Validate new-order parameters (spot rules) and build the Order; nothing is placed."""
    side = ctx.require("side")
    if side not in (BUY, SELL):
        raise BinanceError(-1117, "Invalid side.")
    order_type = ctx.require("type")
    if order_type in UNSUPPORTED_TYPES:
        raise BinanceError(-1014, "Unsupported order combination.")
    if order_type not in ORDER_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    tif = ctx.get("timeInForce")
    quantity = ctx.decimal("quantity")
    price = ctx.decimal("price")
    extra: dict = {}
    if order_type == "LIMIT":
        if tif is None:
            raise mandatory("timeInForce")
        if tif not in TIFS:
            raise BinanceError(-1115, "Invalid timeInForce.")
        if quantity is None:
            raise mandatory("quantity")
        if price is None:
            raise mandatory("price")
    elif order_type == "LIMIT_MAKER":
        if quantity is None:
            raise mandatory("quantity")
        if price is None:
            raise mandatory("price")
        tif = "GTC"
    else:  # MARKET
        if price is not None:
            raise BinanceError(-1106, "Parameter 'price' sent when not required.")
        quote_qty = ctx.decimal("quoteOrderQty")
        if quantity is None and quote_qty is None:
            raise BinanceError(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if quantity is None:
            extra["quoteOrderQty"] = quote_qty
            book = ctx.venue.book(inst.symbol)
            touch = book.best(SELL if side == BUY else BUY) or book.reference
            quantity = floor_to(quote_qty / touch, inst.step)
        tif = "GTC"
    if quantity <= ZERO:
        raise filter_failure("LOT_SIZE")
    check_filters(ctx, inst, order_type, price, quantity)
    return common.unplaced_order(
        ctx,
        inst,
        client_order_id=client_id(ctx),
        side=side,
        type=order_type,
        time_in_force=tif,
        price=price,
        quantity=quantity,
        post_only=order_type == "LIMIT_MAKER",
        extra=extra,
    )


def place(ctx: Ctx, order: Order) -> list[Trade]:
    """Place a validated order: duplicate ids and post-only crosses are rejected (-2010)."""
    venue = ctx.venue
    if venue.open_order_with_client_id(order.client_order_id) is not None:
        raise BinanceError(-2010, "Duplicate order sent.")
    if order.post_only and venue.would_take(order.side, order.symbol, order.price):
        raise BinanceError(-2010, "Order would immediately match and take.")
    order.order_id = venue.new_order_id()
    return venue.submit(order)


# --- endpoints ----------------------------------------------------------------------------
def exchange_info(ctx: Ctx):
    chosen = common.symbols_param(ctx)
    instruments = chosen if chosen is not None else list(ctx.venue.instruments.values())
    limits = ctx.site.limiters[API].limits.windows
    return {
        "timezone": "UTC",
        "serverTime": ctx.now,
        "rateLimits": [w.as_json() for w in limits],
        "exchangeFilters": [],
        "symbols": [symbol_json(i) for i in instruments],
        "sors": [{"baseAsset": "BTC", "symbols": ["BTCUSDT", "BTCUSDC"]}],
    }


def depth_weight(params: dict) -> int:
    limit = int(params.get("limit") or 100) if str(params.get("limit") or "100").isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def depth(ctx: Ctx):
    inst = common.instrument(ctx)
    limit = common.limit_param(ctx, 100, common.DEPTH_LIMITS_SPOT)
    return {"lastUpdateId": ctx.venue.update_id(), **common.depth_levels(ctx, inst, limit, P)}


def ticker_price(ctx: Ctx):
    chosen = common.symbols_param(ctx)
    rows = [
        {"symbol": i.symbol, "price": _f(common.last_price(ctx, i))}
        for i in (chosen or ctx.venue.instruments.values())
    ]
    return rows[0] if ctx.get("symbol") else rows


def book_ticker(ctx: Ctx):
    chosen = common.symbols_param(ctx)
    rows = []
    for inst in chosen or ctx.venue.instruments.values():
        (bid, bid_qty), (ask, ask_qty) = common.best_quotes(ctx, inst)
        rows.append(
            {
                "symbol": inst.symbol,
                "bidPrice": _f(bid),
                "bidQty": _f(bid_qty),
                "askPrice": _f(ask),
                "askQty": _f(ask_qty),
            }
        )
    return rows[0] if ctx.get("symbol") else rows


def new_order(ctx: Ctx):
    inst = common.instrument(ctx)
    order = parse_new_order(ctx, inst)
    resp_type = ctx.get("newOrderRespType") or "FULL"
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise BinanceError(-1177, "Invalid newOrderRespType.")
    trades = place(ctx, order)
    return new_order_json(order, trades, resp_type)


def test_order(ctx: Ctx):
    inst = common.instrument(ctx)
    parse_new_order(ctx, inst)
    return {}


def query_order(ctx: Ctx):
    return order_json(common.queried_order(ctx))


def _cancel(ctx: Ctx, order: Order, cancel_client_id: str) -> dict:
    restriction = ctx.get("cancelRestrictions")
    if not order.is_open:
        raise common.unknown_order()
    if (restriction == "ONLY_NEW" and order.status != NEW) or (
        restriction == "ONLY_PARTIALLY_FILLED" and order.status == NEW
    ):
        raise BinanceError(-2011, "Order was not canceled due to cancel restrictions.")
    ctx.venue.cancel(order, CANCELED)
    return cancel_json(order, cancel_client_id, ctx.now)


def cancel_order(ctx: Ctx):
    inst = common.instrument(ctx)
    order = common.lookup_order(ctx, inst, missing=common.unknown_order())
    return _cancel(ctx, order, client_id(ctx))


def cancel_open_orders(ctx: Ctx):
    inst = common.instrument(ctx)
    orders = ctx.venue.open_orders(inst.symbol)
    if not orders:
        raise common.unknown_order()
    return [_cancel(ctx, o, ctx.venue.new_client_id()) for o in orders]


def open_orders(ctx: Ctx):
    return [order_json(o) for o in common.open_orders_asked(ctx)]


def all_orders(ctx: Ctx):
    inst = common.instrument(ctx)
    start, end = common.time_window(ctx, DAY_MS, "24 hours")
    limit = common.limit_param(ctx, 500, 1000)
    return [
        order_json(o)
        for o in common.order_history(ctx, {inst.symbol}, start=start, end=end, limit=limit)
    ]


def my_trades(ctx: Ctx):
    inst = common.instrument(ctx)
    if ctx.integer("orderId") is not None and ctx.integer("fromId") is not None:
        raise BinanceError(-1106, "Parameter 'fromId' sent when not required.")
    start, end = common.time_window(ctx, DAY_MS, "24 hours")
    limit = common.limit_param(ctx, 500, 1000)
    return [
        trade_json(t)
        for t in common.trade_history(ctx, {inst.symbol}, start=start, end=end, limit=limit)
    ]


def cancel_replace(ctx: Ctx):
    inst = common.instrument(ctx)
    mode = ctx.require("cancelReplaceMode")
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise BinanceError(-1145, "Invalid cancelReplaceMode.")
    new = parse_new_order(ctx, inst)
    cancel_cid = client_id(ctx, "cancelNewClientOrderId")
    cancel_ok, cancel_body = True, None
    try:
        order = common.lookup_order(
            ctx,
            inst,
            id_name="cancelOrderId",
            cid_name="cancelOrigClientOrderId",
            missing=common.unknown_order(),
        )
        cancel_body = _cancel(ctx, order, cancel_cid)
    except BinanceError as error:
        if error.code == -1102:
            raise
        cancel_ok, cancel_body = False, error.body()
    if not cancel_ok and mode == "STOP_ON_FAILURE":
        raise BinanceError(
            -2022,
            "Order cancel-replace failed.",
            400,
            {
                "cancelResult": "FAILURE",
                "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": cancel_body,
                "newOrderResponse": None,
            },
        )
    try:
        trades = place(ctx, new)
        new_ok, new_body = True, new_order_json(new, trades, ctx.get("newOrderRespType") or "FULL")
    except BinanceError as error:
        new_ok, new_body = False, error.body()
    data = {
        "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
        "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
        "cancelResponse": cancel_body,
        "newOrderResponse": new_body,
    }
    if cancel_ok and new_ok:
        return data
    if not cancel_ok and not new_ok:
        raise BinanceError(-2022, "Order cancel-replace failed.", 400, data)
    raise BinanceError(-2021, "Order cancel-replace partially failed.", 409, data)


def amend_keep_priority(ctx: Ctx):
    inst = common.instrument(ctx)
    order = common.lookup_order(ctx, inst, missing=common.no_such_order())
    new_qty = ctx.decimal("newQty", required=True)
    if not order.is_open:
        raise BinanceError(-2038, "Order amend rejected: order is not open.")  # engine text
    if new_qty <= ZERO:
        raise mandatory("newQty")
    if new_qty >= order.quantity:
        raise BinanceError(-2038, "Order amend (quantity increase) is not supported.")
    if not is_multiple(new_qty, inst.step, inst.min_qty) or new_qty < inst.min_qty:
        raise filter_failure("LOT_SIZE")
    new_cid = client_id(ctx)
    if new_cid != order.client_order_id and ctx.venue.open_order_with_client_id(new_cid):
        raise BinanceError(-2010, "Duplicate order sent.")
    orig_cid = order.client_order_id
    ctx.venue.amend(order, quantity=new_qty, keep_priority=True)
    ctx.venue.rename(order, new_cid)
    return {
        "transactTime": ctx.now,
        "executionId": ctx.venue.update_id(),
        "amendedOrder": {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "origClientOrderId": orig_cid,
            "clientOrderId": order.client_order_id,
            "price": _f(order.price),
            "qty": _f(order.quantity),
            "executedQty": _f(order.filled),
            "preventedQty": _f(ZERO),
            "quoteOrderQty": _f(ZERO),
            "cumulativeQuoteQty": _f(order.quote_filled),
            "status": order.status,
            "timeInForce": order.time_in_force,
            "type": order.type,
            "side": order.side,
            "workingTime": order.created,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        },
    }


def _open_orders_weight(params: dict) -> int:
    return 6 if params.get("symbol") else 80


def _symbol_weight(single: int, every: int):
    return lambda params: single if params.get("symbol") else every


def endpoints() -> list[Endpoint]:
    e = Endpoint
    return [
        e(API, "GET", "/api/v3/ping", common.ping),
        e(API, "GET", "/api/v3/time", common.server_time),
        e(API, "GET", "/api/v3/exchangeInfo", exchange_info, weight=20),
        e(API, "GET", "/api/v3/depth", depth, weight=depth_weight),
        e(API, "GET", "/api/v3/ticker/price", ticker_price, weight=_symbol_weight(2, 4)),
        e(API, "GET", "/api/v3/ticker/bookTicker", book_ticker, weight=_symbol_weight(2, 4)),
        e(API, "POST", "/api/v3/order", new_order, signed=True, new_order=True),
        e(API, "POST", "/api/v3/order/test", test_order, signed=True),
        e(API, "GET", "/api/v3/order", query_order, signed=True, weight=4),
        e(API, "DELETE", "/api/v3/order", cancel_order, signed=True),
        e(API, "GET", "/api/v3/openOrders", open_orders, signed=True, weight=_open_orders_weight),
        e(API, "DELETE", "/api/v3/openOrders", cancel_open_orders, signed=True),
        e(API, "GET", "/api/v3/allOrders", all_orders, signed=True, weight=20),
        e(API, "POST", "/api/v3/order/cancelReplace", cancel_replace, signed=True, new_order=True),
        e(
            API,
            "PUT",
            "/api/v3/order/amend/keepPriority",
            amend_keep_priority,
            signed=True,
            weight=4,
        ),
        e(
            API,
            "GET",
            "/api/v3/myTrades",
            my_trades,
            signed=True,
            weight=lambda p: 5 if p.get("orderId") else 20,
        ),
    ]

"""BitMEX `/api/v1` endpoints (swagger.json of BitMEX/api-connectors).

Quantities are integer contracts (multiples of lotSize); prices are JSON numbers (kept exact:
Decimal in, Decimal out); timestamps ISO-8601 with milliseconds. A post-only order that would
take, an IOC remainder and an unfillable FOK end `Canceled` (HTTP 200), as on the venue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exchanges.emulator.bitmex.site import BitmexError, Ctx, Endpoint
from exchanges.emulator.book import (
    BUY,
    CANCELED,
    EXPIRED,
    FILLED,
    NEW,
    PARTIALLY_FILLED,
    SELL,
    Order,
)
from exchanges.emulator.instruments import Instrument
from exchanges.emulator.numbers import ZERO, is_multiple, parse_decimal

P = "/api/v1"
ACCOUNT = 1234567
STATUS = {
    NEW: "New",
    PARTIALLY_FILLED: "PartiallyFilled",
    FILLED: "Filled",
    CANCELED: "Canceled",
    EXPIRED: "Canceled",
    "REJECTED": "Rejected",
}
SIDES = {"Buy": BUY, "Sell": SELL}
TIF = {"GoodTillCancel": "GTC", "ImmediateOrCancel": "IOC", "FillOrKill": "FOK", "Day": "GTC"}
MAX_COUNT = 500


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


def parse_time(text: str | None) -> int | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise BitmexError(400, f"Invalid date: {text}", "ValidationError") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _int(value: Decimal) -> int | Decimal:
    return int(value) if value == value.to_integral_value() else value


# --- serialisation ------------------------------------------------------------------------
def order_json(ctx: Ctx, o: Order) -> dict:
    inst = ctx.venue.instruments[o.symbol]
    return {
        "orderID": o.order_id,
        "clOrdID": o.client_order_id,
        "clOrdLinkID": "",
        "account": ACCOUNT,
        "symbol": o.symbol,
        "side": "Buy" if o.side == BUY else "Sell",
        "orderQty": _int(o.quantity),
        "price": o.price,
        "displayQty": None,
        "stopPx": None,
        "pegOffsetValue": None,
        "pegPriceType": "",
        "currency": inst.quote,
        "settlCurrency": inst.settle,
        "ordType": "Limit" if o.type == "LIMIT" else "Market",
        "timeInForce": o.extra.get("timeInForce", "GoodTillCancel"),
        "execInst": o.extra.get("execInst", ""),
        "contingencyType": "",
        "ordStatus": STATUS[o.status],
        "triggered": "",
        "workingIndicator": o.is_open,
        "ordRejReason": "",
        "leavesQty": _int(o.remaining) if o.is_open else 0,
        "cumQty": _int(o.filled),
        "avgPx": o.average_price.quantize(inst.tick / 100) if o.filled else None,
        "text": o.text or "Submitted via API.",
        "transactTime": iso(o.updated),
        "timestamp": iso(o.updated),
    }


def instrument_json(ctx: Ctx, inst: Instrument) -> dict:
    book = ctx.venue.book(inst.symbol)
    bid, ask = book.best(BUY), book.best(SELL)
    ref = book.reference
    x = inst.extra
    utpm = x.get("underlyingToPositionMultiplier")
    return {
        "symbol": inst.symbol,
        "rootSymbol": x["rootSymbol"],
        "state": "Open",
        "typ": x["typ"],
        "listing": iso(int(ctx.site.started.timestamp() * 1000) - 86_400_000 * 365),
        "front": iso(int(ctx.site.started.timestamp() * 1000) - 86_400_000 * 365),
        "expiry": iso(int(inst.delivery.timestamp() * 1000)) if inst.delivery else None,
        "settle": iso(int(inst.delivery.timestamp() * 1000)) if inst.delivery else None,
        "positionCurrency": {"XBTUSD": "USD"}.get(inst.symbol, inst.base if utpm else ""),
        "underlying": inst.base,
        "quoteCurrency": inst.quote,
        "underlyingSymbol": f"{inst.base}=",
        "reference": "BMEX",
        "referenceSymbol": f".B{inst.base}",
        "maxOrderQty": _int(inst.max_qty),
        "maxPrice": Decimal(1000000),
        "lotSize": _int(inst.step),
        "tickSize": inst.tick,
        "multiplier": x["multiplier"],
        "settlCurrency": inst.settle,
        "underlyingToPositionMultiplier": utpm,
        "underlyingToSettleMultiplier": -100000000 if inst.inverse else None,
        "quoteToSettleMultiplier": 1000000 if inst.settle == "USDt" else None,
        "isQuanto": inst.quanto,
        "isInverse": inst.inverse,
        "initMargin": Decimal("0.01"),
        "maintMargin": Decimal("0.005"),
        "makerFee": Decimal("-0.0001"),
        "takerFee": Decimal("0.00075"),
        "settlementFee": Decimal(0),
        "fundingInterval": "2000-01-01T08:00:00.000Z" if inst.kind == "perpetual" else None,
        "fundingRate": Decimal("0.0001") if inst.kind == "perpetual" else None,
        "prevClosePrice": ref,
        "lastPrice": ref,
        "bidPrice": bid,
        "askPrice": ask,
        "midPrice": (bid + ask) / 2 if bid is not None and ask is not None else None,
        "markPrice": ref,
        "fairPrice": ref,
        "indicativeSettlePrice": ref,
        "hasLiquidity": True,
        "openInterest": 0,
        "volume24h": 0,
        "timestamp": iso(ctx.now),
    }


# --- helpers ------------------------------------------------------------------------------
def _instrument(ctx: Ctx, required: bool = True) -> Instrument | None:
    symbol = ctx.get("symbol")
    if symbol is None:
        if required:
            raise BitmexError(400, "'symbol' is a required arg.", "ValidationError")
        return None
    inst = ctx.venue.instruments.get(str(symbol))
    if inst is None:
        raise BitmexError(400, "Invalid symbol", "HTTPError")
    return inst


def _filter(ctx: Ctx) -> dict:
    raw = ctx.get("filter")
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise BitmexError(400, "Invalid filter JSON", "ValidationError") from None
    if not isinstance(value, dict):
        raise BitmexError(400, "Invalid filter JSON", "ValidationError")
    return value


def _matches(row: dict, wanted: dict) -> bool:
    for key, value in wanted.items():
        if key == "open":
            if bool(value) != bool(row.get("workingIndicator")):
                return False
            continue
        have = row.get(key)
        if isinstance(value, list):
            if have not in value:
                return False
        elif have != value and str(have) != str(value):
            return False
    return True


def _page(ctx: Ctx, rows: list[dict], time_key: str = "timestamp") -> list[dict]:
    start_time = parse_time(ctx.get("startTime"))
    end_time = parse_time(ctx.get("endTime"))
    if start_time is not None or end_time is not None:
        rows = [
            r
            for r in rows
            if (start_time is None or parse_time(r[time_key]) >= start_time)
            and (end_time is None or parse_time(r[time_key]) <= end_time)
        ]
    if str(ctx.get("reverse")).lower() == "true":
        rows = rows[::-1]
    try:
        count = int(ctx.get("count") or 100)
        start = int(ctx.get("start") or 0)
    except ValueError:
        raise BitmexError(400, "count and start must be integers", "ValidationError") from None
    if count <= 0:
        raise BitmexError(400, "count must be a positive integer", "ValidationError")
    count = min(count, MAX_COUNT)
    return rows[start : start + count]


def _decimal(ctx: Ctx, name: str) -> Decimal | None:
    raw = ctx.get(name)
    if raw is None:
        return None
    value = parse_decimal(raw)
    if value is None:
        raise BitmexError(400, f"Invalid {name}", "ValidationError")
    return value


def _check_qty(inst: Instrument, quantity: Decimal) -> None:
    if quantity <= ZERO or not is_multiple(quantity, inst.step):
        raise BitmexError(
            400,
            f"Invalid orderQty: must be a positive multiple of lotSize {_int(inst.step)}",
            "HTTPError",
        )
    if quantity > inst.max_qty:
        raise BitmexError(
            400, f"Invalid orderQty: maxOrderQty is {_int(inst.max_qty)}", "HTTPError"
        )


def _check_price(inst: Instrument, price: Decimal) -> None:
    if price <= ZERO or not is_multiple(price, inst.tick):
        raise BitmexError(
            400, f"Invalid price: must be a positive multiple of tickSize {inst.tick}", "HTTPError"
        )


def _event(ctx: Ctx, order: Order, exec_type: str, text: str = "") -> None:
    ctx.site.events.append((ctx.venue.clock(), exec_type, order, text))


# --- endpoints ----------------------------------------------------------------------------
def announcement(ctx: Ctx):
    return {"name": "BitMEX API", "version": "1.2.0", "timestamp": ctx.now}


def instruments(ctx: Ctx):
    rows = [instrument_json(ctx, i) for i in ctx.venue.instruments.values()]
    symbol = ctx.get("symbol")
    if symbol is not None:
        rows = [r for r in rows if r["symbol"] == symbol or r["rootSymbol"] == symbol]
    wanted = _filter(ctx)
    return _page(ctx, [r for r in rows if _matches(r, wanted)])


def active_instruments(ctx: Ctx):
    return [instrument_json(ctx, i) for i in ctx.venue.instruments.values()]


def order_book(ctx: Ctx):
    inst = _instrument(ctx)
    depth = int(ctx.get("depth") or 25)
    book = ctx.venue.book(inst.symbol)
    limit = depth if depth > 0 else 10_000
    rows = []
    index = ctx.venue.instruments_index(inst.symbol)
    for side, levels in (("Sell", book.depth(SELL, limit)[::-1]), ("Buy", book.depth(BUY, limit))):
        for price, size in levels:
            level_id = 8_800_000_000 * index + int(price / inst.tick)
            rows.append(
                {
                    "symbol": inst.symbol,
                    "id": level_id,
                    "side": side,
                    "size": _int(size),
                    "price": price,
                    "timestamp": iso(ctx.now),
                }
            )
    return rows


def quote(ctx: Ctx):
    inst = _instrument(ctx)
    book = ctx.venue.book(inst.symbol)
    bids, asks = book.depth(BUY, 1), book.depth(SELL, 1)
    return [
        {
            "timestamp": iso(ctx.now),
            "symbol": inst.symbol,
            "bidSize": _int(bids[0][1]) if bids else None,
            "bidPrice": bids[0][0] if bids else None,
            "askPrice": asks[0][0] if asks else None,
            "askSize": _int(asks[0][1]) if asks else None,
        }
    ]


def new_order(ctx: Ctx):
    inst = _instrument(ctx)
    venue = ctx.venue
    quantity = _decimal(ctx, "orderQty")
    side = ctx.get("side")
    if quantity is None:
        raise BitmexError(400, "'orderQty' is a required arg.", "ValidationError")
    if side is None:
        side = "Buy" if quantity > 0 else "Sell"
    quantity = abs(quantity)
    if side not in SIDES:
        raise BitmexError(400, "Invalid side", "ValidationError")
    price = _decimal(ctx, "price")
    ord_type = ctx.get("ordType") or ("Limit" if price is not None else "Market")
    if ord_type not in ("Limit", "Market"):
        raise BitmexError(400, f"Unsupported ordType: {ord_type}", "HTTPError")
    if ord_type == "Limit" and price is None:
        raise BitmexError(400, "Invalid price: Limit orders require a price", "HTTPError")
    if ord_type == "Market" and price is not None:
        raise BitmexError(400, "Invalid price: Market orders cannot have a price", "HTTPError")
    default_tif = "GoodTillCancel" if ord_type == "Limit" else "ImmediateOrCancel"
    tif_name = ctx.get("timeInForce") or default_tif
    if tif_name not in TIF:
        raise BitmexError(400, "Invalid timeInForce", "ValidationError")
    exec_inst = str(ctx.get("execInst") or "")
    instructions = {i.strip() for i in exec_inst.split(",") if i.strip()}
    _check_qty(inst, quantity)
    if price is not None:
        _check_price(inst, price)
    cl_ord_id = str(ctx.get("clOrdID") or "")
    if len(cl_ord_id) > 36:
        raise BitmexError(400, "Invalid clOrdID: maximum length is 36", "HTTPError")
    if cl_ord_id and venue.open_order_with_client_id(cl_ord_id) is not None:
        raise BitmexError(400, "Duplicate clOrdID", "HTTPError")
    order = Order(
        venue_api="bitmex",
        symbol=inst.symbol,
        order_id=venue.new_order_id(guid=True),
        client_order_id=cl_ord_id,
        side=SIDES[side],
        type="LIMIT" if ord_type == "Limit" else "MARKET",
        time_in_force=TIF[tif_name],
        price=price,
        quantity=quantity,
        created=ctx.now,
        post_only="ParticipateDoNotInitiate" in instructions,
        reduce_only="ReduceOnly" in instructions,
        text=str(ctx.get("text") or ""),
        extra={"timeInForce": tif_name, "execInst": exec_inst},
    )
    venue.submit(order)
    _event(ctx, order, "New")
    if order.status == CANCELED and order.post_only and not order.filled:
        order.text = "Canceled: Order had execInst of ParticipateDoNotInitiate"
    elif order.status == EXPIRED:
        order.status = CANCELED
        order.text = (
            "Canceled: Order had timeInForce of FillOrKill"
            if order.time_in_force == "FOK"
            else "Canceled: Order had timeInForce of ImmediateOrCancel"
        )
    if order.status == CANCELED:
        _event(ctx, order, "Canceled", order.text)
    return order_json(ctx, order)


def _find(ctx: Ctx, order_id, cl_ord_id) -> Order | None:
    if order_id:
        return ctx.venue.find(order_id=str(order_id))
    if cl_ord_id:
        return ctx.venue.find(client_order_id=str(cl_ord_id))
    return None


def amend_order(ctx: Ctx):
    venue = ctx.venue
    order_id, orig = ctx.get("orderID"), ctx.get("origClOrdID")
    if not order_id and not orig:
        raise BitmexError(400, "Must specify either orderID or origClOrdID", "HTTPError")
    order = _find(ctx, order_id, orig)
    if order is None:
        raise BitmexError(
            400, "Invalid orderID" if order_id else "Invalid origClOrdID", "HTTPError"
        )
    if not order.is_open:
        raise BitmexError(400, "Invalid ordStatus", "HTTPError")
    inst = venue.instruments[order.symbol]
    order_qty, leaves_qty = _decimal(ctx, "orderQty"), _decimal(ctx, "leavesQty")
    if order_qty is not None and leaves_qty is not None:
        raise BitmexError(400, "Only one of orderQty or leavesQty may be sent", "HTTPError")
    price = _decimal(ctx, "price")
    new_qty = (
        order_qty
        if order_qty is not None
        else (order.filled + leaves_qty if leaves_qty is not None else order.quantity)
    )
    new_price = price if price is not None else order.price
    if new_qty == order.quantity and new_price == order.price:
        raise BitmexError(
            400, "Invalid amend: orderQty, leavesQty, price, stopPx unchanged", "HTTPError"
        )
    if new_qty != order.quantity:
        _check_qty(inst, new_qty - order.filled if new_qty > order.filled else new_qty)
    if price is not None:
        _check_price(inst, price)
    new_cl = ctx.get("clOrdID")
    if new_cl and new_cl != order.client_order_id and venue.open_order_with_client_id(new_cl):
        raise BitmexError(400, "Duplicate clOrdID", "HTTPError")
    if order.post_only and price is not None and venue.would_take(order.side, order.symbol, price):
        venue.cancel(order)
        order.text = "Canceled: Order had execInst of ParticipateDoNotInitiate"
        _event(ctx, order, "Canceled", order.text)
        return order_json(ctx, order)
    venue.amend(order, quantity=new_qty, price=new_price)
    if new_cl:
        venue.rename(order, str(new_cl))
    if ctx.get("text"):
        order.text = str(ctx.get("text"))
    _event(ctx, order, "Replaced")
    return order_json(ctx, order)


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            raise BitmexError(400, "Invalid JSON", "ValidationError") from None
    return [text]


def cancel_orders(ctx: Ctx):
    order_ids, cl_ids = _ids(ctx.get("orderID")), _ids(ctx.get("clOrdID"))
    if not order_ids and not cl_ids:
        raise BitmexError(400, "Must specify either orderID or clOrdID", "HTTPError")
    found = [_find(ctx, i, None) for i in order_ids] + [_find(ctx, None, c) for c in cl_ids]
    orders = [o for o in found if o is not None]
    if not orders:
        raise BitmexError(404, "Not Found", "HTTPError")
    return [_cancel_one(ctx, o, str(ctx.get("text") or "")) for o in orders]


def _cancel_one(ctx: Ctx, order: Order, text: str) -> dict:
    if not order.is_open:
        body = order_json(ctx, order)
        body["error"] = f"Unable to cancel order due to existing state: {STATUS[order.status]}"
        return body
    ctx.venue.cancel(order)
    order.text = "Canceled: " + (text or "Canceled via API.")
    _event(ctx, order, "Canceled", order.text)
    return order_json(ctx, order)


def cancel_all(ctx: Ctx):
    inst = _instrument(ctx, required=False)
    wanted = _filter(ctx)
    rows = []
    for order in ctx.venue.open_orders(inst.symbol if inst else None):
        if _matches(order_json(ctx, order), wanted):
            rows.append(_cancel_one(ctx, order, str(ctx.get("text") or "")))
    return rows


def cancel_all_after(ctx: Ctx):
    timeout = _decimal(ctx, "timeout")
    if timeout is None:
        raise BitmexError(400, "'timeout' is a required arg.", "ValidationError")
    ctx.site.arm_cancel_all_after(int(timeout))
    if timeout <= 0:
        return {"now": iso(ctx.now), "cancelTime": None}
    return {"now": iso(ctx.now), "cancelTime": iso(ctx.now + int(timeout))}


def get_orders(ctx: Ctx):
    inst = _instrument(ctx, required=False)
    rows = [order_json(ctx, o) for o in ctx.venue.orders if inst is None or o.symbol == inst.symbol]
    wanted = _filter(ctx)
    rows = [r for r in rows if _matches(r, wanted)]
    rows.sort(key=lambda r: r["timestamp"])
    return _page(ctx, rows)


def _execution_rows(ctx: Ctx, trades_only: bool) -> list[dict]:
    rows = []
    venue = ctx.venue
    for trade in venue.trades:
        order = venue.by_id[trade.order_id]
        row = order_json(ctx, order)
        inst = venue.instruments[order.symbol]
        if inst.inverse:
            cost = -(trade.quantity / trade.price * Decimal(100_000_000)).to_integral_value()
        else:
            cost = (
                trade.quote_quantity
                / (inst.extra.get("underlyingToPositionMultiplier") or 1)
                * Decimal(1_000_000)
            ).to_integral_value()
        if trade.side == SELL:
            cost = -cost
        fee = Decimal("-0.0001") if trade.is_maker else Decimal("0.00075")
        row.update(
            {
                "execID": trade.exec_id,
                "lastQty": _int(trade.quantity),
                "lastPx": trade.price,
                "lastLiquidityInd": "AddedLiquidity" if trade.is_maker else "RemovedLiquidity",
                "execType": "Trade",
                "commission": fee,
                "feeType": "Trade",
                "tradePublishIndicator": "PublishTrade",
                "trdMatchID": trade.exec_id,
                "execCost": int(cost),
                "execComm": int((abs(cost) * fee).to_integral_value()),
                "homeNotional": None,
                "foreignNotional": None,
                "transactTime": iso(trade.time),
                "timestamp": iso(trade.time),
            }
        )
        rows.append(row)
    if not trades_only:
        for at, exec_type, order, text in ctx.site.events:
            row = order_json(ctx, order)
            row.update(
                {
                    "execID": f"{order.order_id[:24]}{at % 10**12:012d}",
                    "lastQty": None,
                    "lastPx": None,
                    "execType": exec_type,
                    "text": text or row["text"],
                    "transactTime": iso(at),
                    "timestamp": iso(at),
                }
            )
            rows.append(row)
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def executions(ctx: Ctx):
    return _select_executions(ctx, trades_only=False)


def trade_history(ctx: Ctx):
    return _select_executions(ctx, trades_only=True)


def _select_executions(ctx: Ctx, trades_only: bool):
    inst = _instrument(ctx, required=False)
    rows = [
        r for r in _execution_rows(ctx, trades_only) if inst is None or r["symbol"] == inst.symbol
    ]
    wanted = _filter(ctx)
    return _page(ctx, [r for r in rows if _matches(r, wanted)])


def positions(ctx: Ctx):
    venue = ctx.venue
    rows = []
    for symbol, inst in venue.instruments.items():
        qty, cost = ZERO, ZERO
        for trade in venue.trades:
            if trade.symbol == symbol:
                signed = trade.quantity if trade.side == BUY else -trade.quantity
                qty += signed
                cost += signed * trade.price
        if qty == ZERO and not any(t.symbol == symbol for t in venue.trades):
            continue
        book = venue.book(symbol)
        rows.append(
            {
                "account": ACCOUNT,
                "symbol": symbol,
                "currency": inst.settle,
                "underlying": inst.base,
                "quoteCurrency": inst.quote,
                "leverage": Decimal(10),
                "crossMargin": True,
                "currentQty": _int(qty),
                "isOpen": qty != ZERO,
                "markPrice": book.reference,
                "avgEntryPrice": (cost / qty).quantize(inst.tick) if qty else None,
                "timestamp": iso(ctx.now),
            }
        )
    wanted = _filter(ctx)
    return [r for r in rows if _matches(r, wanted)]


def endpoints() -> list[Endpoint]:
    e = Endpoint
    return [
        e("GET", P, announcement),
        e("GET", P + "/instrument", instruments),
        e("GET", P + "/instrument/active", active_instruments),
        e("GET", P + "/orderBook/L2", order_book),
        e("GET", P + "/quote", quote),
        e("POST", P + "/order", new_order, private=True, order_route=True),
        e("PUT", P + "/order", amend_order, private=True, order_route=True),
        e("GET", P + "/order", get_orders, private=True),
        e("DELETE", P + "/order", cancel_orders, private=True, order_route=True),
        e("DELETE", P + "/order/all", cancel_all, private=True, order_route=True),
        e("POST", P + "/order/cancelAllAfter", cancel_all_after, private=True),
        e("GET", P + "/execution", executions, private=True),
        e("GET", P + "/execution/tradeHistory", trade_history, private=True),
        e("GET", P + "/position", positions, private=True),
    ]

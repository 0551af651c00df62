"""Pieces the three Binance APIs share: symbol and order lookup, history windows, market data."""

from __future__ import annotations

from decimal import Decimal

from exchanges.emulator.binance.site import BinanceError, Ctx
from exchanges.emulator.book import BUY, SELL, Order
from exchanges.emulator.instruments import Instrument
from exchanges.emulator.numbers import fixed
from exchanges.emulator.venue import Trade

DEPTH_LIMITS_SPOT = 5000
DEPTH_LIMITS_FUTURES = (5, 10, 20, 50, 100, 500, 1000)


def instrument(ctx: Ctx, name: str = "symbol") -> Instrument:
    symbol = ctx.require(name)
    inst = ctx.venue.instruments.get(symbol)
    if inst is None:
        raise BinanceError(-1121, "Invalid symbol.")
    return inst


def lookup_order(
    ctx: Ctx,
    inst: Instrument,
    *,
    id_name="orderId",
    cid_name="origClientOrderId",
    missing: BinanceError,
) -> Order:
    order_id = ctx.integer(id_name)
    client_id = ctx.get(cid_name)
    if order_id is None and client_id is None:
        raise BinanceError(
            -1102, f"Param '{cid_name}' or '{id_name}' must be sent, but both were empty/null!"
        )
    if order_id is not None:
        order = ctx.venue.find(order_id=order_id)
        if order is not None and client_id is not None and order.client_order_id != client_id:
            order = None
    else:
        order = ctx.venue.find(client_order_id=client_id)
    if order is None or order.symbol != inst.symbol:
        raise missing
    return order


def no_such_order() -> BinanceError:
    return BinanceError(-2013, "Order does not exist.")


def unknown_order() -> BinanceError:
    return BinanceError(-2011, "Unknown order sent.")


def time_window(ctx: Ctx, max_ms: int, label: str, default_span_ms: int | None = None):
    """(start, end) in ms from startTime/endTime, refusing a span over the venue's limit."""
    start, end = ctx.integer("startTime"), ctx.integer("endTime")
    if start is not None and end is not None:
        if end < start:
            raise BinanceError(-1023, "Start time is greater than end time.")
        if end - start > max_ms:
            raise BinanceError(-1127, f"More than {label} between startTime and endTime.")
    if default_span_ms is not None:
        if start is None and end is None:
            end = ctx.now
            start = end - default_span_ms
        elif start is None:
            start = end - default_span_ms
        elif end is None:
            end = start + default_span_ms
    return start, end


def history(items: list, *, key_id, key_time, from_id, start, end, limit) -> list:
    """Binance history selection: by id (>= from_id, oldest first), by time window, or the most
    recent `limit` items; always returned oldest first."""
    selected = [
        i
        for i in items
        if (from_id is None or key_id(i) >= from_id)
        and (start is None or key_time(i) >= start)
        and (end is None or key_time(i) <= end)
    ]
    if from_id is not None or (start is not None and end is None):
        return selected[:limit]
    return selected[-limit:] if limit else []


def limit_param(ctx: Ctx, default: int, maximum: int) -> int:
    limit = ctx.integer("limit", default)
    if limit is None or limit <= 0:
        return default
    return min(limit, maximum)


def depth_levels(ctx: Ctx, inst: Instrument, limit: int, places: int | None = None) -> dict:
    book = ctx.venue.book(inst.symbol)
    qp = inst.quantity_precision if places is None else places
    pp = inst.price_precision if places is None else places
    return {
        "bids": [[fixed(p, pp), fixed(q, qp)] for p, q in book.depth(BUY, limit)],
        "asks": [[fixed(p, pp), fixed(q, qp)] for p, q in book.depth(SELL, limit)],
    }


def best_quotes(
    ctx: Ctx, inst: Instrument
) -> tuple[tuple[Decimal, Decimal], tuple[Decimal, Decimal]]:
    book = ctx.venue.book(inst.symbol)
    bids, asks = book.depth(BUY, 1), book.depth(SELL, 1)
    zero = (Decimal(0), Decimal(0))
    return (bids[0] if bids else zero), (asks[0] if asks else zero)


def last_price(ctx: Ctx, inst: Instrument) -> Decimal:
    for trade in reversed(ctx.venue.trades):
        if trade.symbol == inst.symbol:
            return trade.price
    return ctx.venue.book(inst.symbol).reference


def symbols_param(ctx: Ctx) -> list[Instrument] | None:
    """`symbol=` or `symbols=["A","B"]` (None: every symbol)."""
    if ctx.get("symbol"):
        return [instrument(ctx)]
    raw = ctx.get("symbols")
    if raw is None:
        return None
    names = [s.strip().strip('"') for s in raw.strip("[]").split(",") if s.strip()]
    found = []
    for name in names:
        inst = ctx.venue.instruments.get(name)
        if inst is None:
            raise BinanceError(-1121, "Invalid symbol.")
        found.append(inst)
    return found


# --- endpoint bodies the spot and futures wire layers share --------------------------------


def unplaced_order(ctx: Ctx, inst: Instrument, *, client_order_id: str, **fields) -> Order:
    """A validated new order, not placed yet: numbered (order_id) only when the venue takes it.
    `fields`: side, type, time_in_force, price, quantity and the API's own (post_only ...)."""
    return Order(
        venue_api=ctx.api,
        symbol=inst.symbol,
        order_id=0,
        client_order_id=client_order_id,
        created=ctx.now,
        **fields,
    )


def ping(ctx: Ctx):
    return {}


def server_time(ctx: Ctx):
    return {"serverTime": ctx.now}


def queried_order(ctx: Ctx) -> Order:
    """GET order: by orderId or origClientOrderId; -2013 when the venue never had it."""
    return lookup_order(ctx, instrument(ctx), missing=no_such_order())


def open_orders_asked(ctx: Ctx) -> list[Order]:
    """GET openOrders: one symbol's, or every symbol's without `symbol`."""
    symbol = instrument(ctx).symbol if ctx.get("symbol") else None
    return ctx.venue.open_orders(symbol)


def order_history(ctx: Ctx, symbols: set[str], *, start, end, limit: int) -> list[Order]:
    """allOrders: the symbols' orders from orderId, or in the time window, or the latest."""
    return history(
        [o for o in ctx.venue.orders if o.symbol in symbols],
        key_id=lambda o: o.order_id,
        key_time=lambda o: o.created,
        from_id=ctx.integer("orderId"),
        start=start,
        end=end,
        limit=limit,
    )


def trade_history(ctx: Ctx, symbols: set[str], *, start, end, limit: int) -> list[Trade]:
    """myTrades / userTrades: the symbols' trades (of one orderId if given), from fromId, in
    the time window, or the latest."""
    order_id = ctx.integer("orderId")
    return history(
        [
            t
            for t in ctx.venue.trades
            if t.symbol in symbols and (order_id is None or t.order_id == order_id)
        ],
        key_id=lambda t: t.trade_id,
        key_time=lambda t: t.time,
        from_id=ctx.integer("fromId"),
        start=start,
        end=end,
        limit=limit,
    )

"""Matching-engine properties, checked with hypothesis over random operation sequences:
the book is never crossed, no order fills beyond its quantity, quantity is conserved between
orders, trades and the book, and fills follow price-time priority."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.emulator.book import BUY, CANCELED, FILLED, SELL, Book, Order
from exchanges.emulator.instruments import Instrument
from exchanges.emulator.venue import Venue

D = Decimal
INSTRUMENT = Instrument(
    "binance.spot",
    "TESTUSDT",
    "BTC",
    "USDT",
    None,
    "spot",
    tick=D(1),
    step=D(1),
    min_qty=D(1),
    max_qty=D(1000),
    min_notional=D(0),
    depth_unit=D(2),
)
REFERENCE = D(65000)


def _venue() -> Venue:
    clock = iter(range(1, 10**9))
    venue = Venue("binance.spot", [INSTRUMENT], clock=lambda: next(clock))
    venue.books["TESTUSDT"] = Book(INSTRUMENT, REFERENCE, levels=4)
    return venue


def _order(venue: Venue, side, order_type, price, quantity, tif) -> Order:
    return Order(
        venue_api="binance.spot",
        symbol="TESTUSDT",
        order_id=venue.new_order_id(),
        client_order_id=venue.new_client_id(),
        side=side,
        type=order_type,
        time_in_force=tif,
        price=price if order_type == "LIMIT" else None,
        quantity=D(quantity),
        created=0,
    )


place = st.tuples(
    st.just("place"),
    st.sampled_from([BUY, SELL]),
    st.sampled_from(["LIMIT", "LIMIT", "LIMIT", "MARKET"]),
    st.integers(64970, 65030).map(D),
    st.integers(1, 12),
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
reprice = st.tuples(st.just("reprice"), st.integers(64960, 65040).map(D))
fill = st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 5))
operations = st.lists(st.one_of(place, place, cancel, reprice, fill), min_size=1, max_size=40)


def _apply(venue: Venue, op) -> None:
    kind = op[0]
    open_orders = venue.open_orders()
    if kind == "place":
        venue.submit(_order(venue, *op[1:]))
    elif kind == "cancel" and open_orders:
        venue.cancel(open_orders[op[1] % len(open_orders)], CANCELED)
    elif kind == "reprice":
        venue.set_price("TESTUSDT", op[1])
    elif kind == "fill" and open_orders:
        order = open_orders[op[1] % len(open_orders)]
        venue.fill(order, min(D(op[2]), order.remaining), order.price)


def _check_invariants(venue: Venue) -> None:
    book = venue.books["TESTUSDT"]
    bid, ask = book.best(BUY), book.best(SELL)
    assert bid is None or ask is None or bid < ask, f"crossed book: bid {bid} >= ask {ask}"
    resting = {id(o) for o in book.open_orders()}
    for order in venue.orders:
        assert D(0) <= order.filled <= order.quantity
        assert (order.status == FILLED) == (order.filled == order.quantity)
        assert (id(order) in resting) == order.is_open, order
        traded = sum((t.quantity for t in venue.trades_by_order.get(order.order_id, ())), D(0))
        assert traded == order.filled, "an order's fills do not add up to its filled quantity"
        if order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
            assert not order.is_open
    assert sum(o.filled for o in venue.orders) == sum(t.quantity for t in venue.trades)
    by_trade: dict[int, list] = {}
    for trade in venue.trades:
        by_trade.setdefault(trade.trade_id, []).append(trade)
    for sides in by_trade.values():
        assert len(sides) in (1, 2)
        if len(sides) == 2:  # user against user: same quantity and price, opposite sides
            assert sides[0].quantity == sides[1].quantity and sides[0].price == sides[1].price
            assert {sides[0].side, sides[1].side} == {BUY, SELL}


@settings(max_examples=150, deadline=None)
@given(operations)
def test_it_keeps_the_book_uncrossed_and_quantities_conserved(ops):
    venue = _venue()
    for op in ops:
        _apply(venue, op)
        _check_invariants(venue)


@settings(max_examples=150, deadline=None)
@given(
    makers=st.lists(
        st.tuples(st.integers(100, 110).map(D), st.integers(1, 5).map(D)), min_size=1, max_size=15
    ),
    taker_qty=st.integers(1, 60).map(D),
    limit=st.integers(100, 112).map(D),
)
def test_it_fills_resting_orders_by_price_then_time(makers, taker_qty, limit):
    book = Book(INSTRUMENT, D(1000), levels=0)  # no synthetic liquidity: users only
    resting = []
    for seq, (price, qty) in enumerate(makers):
        order = Order(
            "binance.spot",
            "TESTUSDT",
            seq,
            f"m{seq}",
            SELL,
            "LIMIT",
            "GTC",
            price,
            qty,
            created=seq,
            seq=seq,
        )
        book.rest(order)
        resting.append(order)
    taker = Order(
        "binance.spot", "TESTUSDT", 999, "t", BUY, "LIMIT", "IOC", limit, taker_qty, created=999
    )
    executions = book.match(taker, now=1000)

    expected, left = [], taker_qty
    for order in sorted(resting, key=lambda o: (o.price, o.seq)):
        if left == 0 or order.price > limit:
            break
        take = min(left, order.quantity)
        expected.append((order.client_order_id, order.price, take))
        left -= take
    assert [(e.maker.client_order_id, e.price, e.quantity) for e in executions] == expected
    assert taker.filled == taker_qty - left
    ask = book.best(SELL)
    assert ask is None or ask > limit or taker.remaining == 0


def test_it_trades_synthetic_liquidity_before_a_later_user_order_at_the_same_price():
    venue = _venue()
    book = venue.books["TESTUSDT"]
    best_ask = book.best(SELL)
    synthetic_size = book.depth(SELL, 1)[0][1]
    maker = _order(venue, SELL, "LIMIT", best_ask, 3, "GTC")
    venue.submit(maker)
    taker = _order(venue, BUY, "LIMIT", best_ask, synthetic_size + 1, "IOC")
    venue.submit(taker)
    assert taker.filled == synthetic_size + 1 and maker.filled == 1


def test_it_keeps_time_priority_on_a_quantity_decrease_and_loses_it_on_a_price_change():
    venue = _venue()
    first = _order(venue, SELL, "LIMIT", D(65001), 2, "GTC")
    second = _order(venue, SELL, "LIMIT", D(65001), 2, "GTC")
    venue.submit(first)
    venue.submit(second)
    venue.amend(first, quantity=D(1))  # down: keeps its place
    taker = _order(venue, BUY, "LIMIT", D(65001), 1, "IOC")
    venue.submit(taker)
    assert first.status == FILLED and second.filled == 0
    third = _order(venue, SELL, "LIMIT", D(65001), 2, "GTC")
    venue.submit(third)
    venue.amend(second, price=D(65002))
    venue.amend(second, price=D(65001))  # price changed: now behind `third`
    taker = _order(venue, BUY, "LIMIT", D(65001), 1, "IOC")
    venue.submit(taker)
    assert third.filled == 1 and second.filled == 0

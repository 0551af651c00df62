"""One emulated venue API's state: instruments, books, every order and every trade, in memory.

The venue layers (binance/, bitmex/) validate requests and speak the wire format; this module
does what the matching engine's owner does: assign ids, enforce client-id uniqueness among open
orders, run time-in-force rules, record trades with fees, cancel, amend, and move prices.
Everything runs on the emulator's event loop thread, so no locks are needed.
"""

from __future__ import annotations

import random
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from exchanges.emulator.book import (
    BUY,
    CANCELED,
    EXPIRED,
    FILLED,
    NEW,
    Book,
    Execution,
    Order,
)
from exchanges.emulator.instruments import START_PRICES, Instrument
from exchanges.emulator.numbers import floor_to

MAKER_FEE = {
    "binance.spot": Decimal("0.001"),
    "binance.usdm": Decimal("0.0002"),
    "binance.coinm": Decimal("0.0001"),
    "bitmex": Decimal("-0.0001"),
}
TAKER_FEE = {
    "binance.spot": Decimal("0.001"),
    "binance.usdm": Decimal("0.0005"),
    "binance.coinm": Decimal("0.0005"),
    "bitmex": Decimal("0.00075"),
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Trade:
    trade_id: int
    venue_api: str
    symbol: str
    order_id: int | str
    client_order_id: str
    side: str
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time: int
    exec_id: str = ""


class Venue:
    def __init__(
        self,
        venue_api: str,
        instruments: list[Instrument],
        *,
        seed: int = 0,
        clock: Callable[[], int] = now_ms,
        walk_seconds: float = 0.0,
        id_start: int = 1,
    ):
        self.venue_api = venue_api
        self.clock = clock
        self.seed = seed
        self.walk_ms = int(walk_seconds * 1000)
        self.id_start = id_start
        self.instruments = {i.symbol: i for i in instruments}
        self.reset()

    # --- lifecycle -----------------------------------------------------------------------
    def reset(self) -> None:
        now = self.clock()
        self.books: dict[str, Book] = {}
        self._walk_rng: dict[str, random.Random] = {}
        self._walked_at: dict[str, int] = {}
        for symbol, inst in self.instruments.items():
            start = START_PRICES["BTC" if inst.base == "XBT" else inst.base]
            self.books[symbol] = Book(inst, floor_to(start, inst.tick))
            self._walk_rng[symbol] = random.Random(self.seed ^ zlib.crc32(symbol.encode()))
            self._walked_at[symbol] = now
        self.orders: list[Order] = []
        self.by_id: dict[int | str, Order] = {}
        self.by_client: dict[str, list[Order]] = {}
        self.trades: list[Trade] = []
        self.trades_by_order: dict[int | str, list[Trade]] = {}
        self._ids = random.Random(self.seed)
        self._next_order = self.id_start
        self._next_trade = self.id_start
        self._seq = 0

    # --- lookups -------------------------------------------------------------------------
    def book(self, symbol: str) -> Book:
        self._walk(symbol)
        return self.books[symbol]

    def instruments_index(self, symbol: str) -> int:
        return list(self.instruments).index(symbol)

    def find(self, *, order_id=None, client_order_id: str | None = None) -> Order | None:
        if order_id is not None:
            return self.by_id.get(order_id)
        if client_order_id is not None:
            matches = self.by_client.get(client_order_id)
            return matches[-1] if matches else None
        return None

    def open_order_with_client_id(self, client_order_id: str) -> Order | None:
        for order in self.by_client.get(client_order_id, ()):
            if order.is_open:
                return order
        return None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders if o.is_open and (symbol is None or o.symbol == symbol)]

    # --- ids -----------------------------------------------------------------------------
    def new_order_id(self, guid: bool = False) -> int | str:
        if guid:
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        self._next_order += 1
        return self._next_order - 1

    def new_client_id(self, prefix: str = "") -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self._ids.choice(alphabet) for _ in range(22))

    def update_id(self) -> int:
        """A number that grows with every change of the venue (depth lastUpdateId)."""
        return self._seq * 1000 + self._next_trade

    def _new_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- orders --------------------------------------------------------------------------
    def submit(self, order: Order) -> list[Trade]:
        """Register a new order and run it through the book by its time in force.

        The caller has validated it. Post-only and FOK checks that end in an *error* on the
        venue are the caller's job (`would_take` / `can_fill`); here a post-only order that
        would take is canceled (BitMEX's behaviour) and an unfillable FOK expires.
        """
        now = self.clock()
        order.created = order.updated = now
        order.seq = self._new_seq()
        self._register(order)
        book = self.book(order.symbol)
        if order.post_only and book.crosses(order.side, order.price):
            order.status = CANCELED
            return []
        if order.time_in_force == "FOK" and not self.can_fill(order):
            order.status = EXPIRED
            return []
        executions = book.match(order, now)
        if order.is_open:
            if order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
                order.status = EXPIRED
            else:
                book.rest(order)
        return self._record(executions, now)

    def _register(self, order: Order) -> None:
        self.orders.append(order)
        self.by_id[order.order_id] = order
        self.by_client.setdefault(order.client_order_id, []).append(order)

    def would_take(self, side: str, symbol: str, price: Decimal | None) -> bool:
        return self.book(symbol).crosses(side, price)

    def can_fill(self, order: Order) -> bool:
        book = self.book(order.symbol)
        return book.available(order.side, order.price, exclude=order) >= order.remaining

    def cancel(self, order: Order, status: str = CANCELED) -> None:
        self.books[order.symbol].remove(order)
        order.status = status
        order.updated = self.clock()

    def rename(self, order: Order, client_order_id: str) -> None:
        """Give an order a new client order id (amends that change it)."""
        if client_order_id == order.client_order_id:
            return
        self.by_client[order.client_order_id].remove(order)
        order.client_order_id = client_order_id
        self.by_client.setdefault(client_order_id, []).append(order)

    def amend(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        keep_priority: bool | None = None,
    ) -> list[Trade]:
        """Change a resting order in place. Priority is kept only when `keep_priority` says so
        (None: kept when only the quantity goes down, BitMEX's and the spot venue's rule).
        A new price that crosses the market trades at once; a quantity at or below the filled
        quantity ends the order (FILLED when fully filled, else as the venue decides upstream).
        """
        now = self.clock()
        book = self.books[order.symbol]
        new_qty = order.quantity if quantity is None else quantity
        new_price = order.price if price is None else price
        if keep_priority is None:
            keep_priority = new_price == order.price and new_qty <= order.quantity
        book.remove(order)
        order.quantity, order.price, order.updated = new_qty, new_price, now
        if not keep_priority:
            order.seq = self._new_seq()
        if order.filled >= order.quantity:
            order.quantity = order.filled
            order.status = FILLED
            return []
        executions = book.match(order, now) if not order.post_only else []
        if order.is_open:
            if keep_priority:
                self._reinsert_in_place(book, order)
            else:
                book.rest(order)
        return self._record(executions, now)

    @staticmethod
    def _reinsert_in_place(book: Book, order: Order) -> None:
        side = book.bids if order.side == BUY else book.asks
        level = side._levels.get(order.price)
        if level is None:
            side.add(order)
            return
        position = sum(1 for o in level if o.seq < order.seq)
        level.insert(position, order)

    def fill(self, order: Order, quantity: Decimal, price: Decimal) -> list[Trade]:
        """Control API: fill (part of) a resting order as the maker at `price`."""
        now = self.clock()
        execution = self.books[order.symbol].fill_resting(order, quantity, price, now)
        return self._record([execution], now)

    def set_price(self, symbol: str, price: Decimal) -> list[Trade]:
        now = self.clock()
        book = self.books[symbol]
        self._walked_at[symbol] = now
        return self._record(book.reprice(floor_to(price, book.instrument.tick), now), now)

    def _walk(self, symbol: str) -> None:
        """Random-walk the reference price (seeded) when walking is switched on."""
        if not self.walk_ms:
            return
        now = self.clock()
        steps = (now - self._walked_at[symbol]) // self.walk_ms
        if steps <= 0:
            return
        self._walked_at[symbol] += steps * self.walk_ms
        book = self.books[symbol]
        rng = self._walk_rng[symbol]
        tick = book.instrument.tick
        gap = max(tick, floor_to(book.reference * Decimal("0.0001"), tick))
        reference = book.reference
        for _ in range(min(steps, 1000)):
            reference += gap * rng.randint(-2, 2)
        reference = max(reference, tick * 10)
        self._record(book.reprice(reference, now), now)

    # --- trades --------------------------------------------------------------------------
    def _record(self, executions: list[Execution], now: int) -> list[Trade]:
        trades: list[Trade] = []
        for execution in executions:
            trade_id = self._next_trade
            self._next_trade += 1
            for order, is_maker in ((execution.taker, False), (execution.maker, True)):
                if order is None:
                    continue
                trade = self._trade(trade_id, order, execution, is_maker, now)
                self.trades.append(trade)
                self.trades_by_order.setdefault(order.order_id, []).append(trade)
                trades.append(trade)
        return trades

    def _trade(self, trade_id: int, order: Order, ex: Execution, is_maker: bool, now: int) -> Trade:
        inst = self.instruments[order.symbol]
        rate = (MAKER_FEE if is_maker else TAKER_FEE)[self.venue_api]
        quote_qty = ex.price * ex.quantity
        if self.venue_api == "binance.spot":
            fee_asset = inst.base if order.side == BUY else inst.quote
            basis = ex.quantity if order.side == BUY else quote_qty
        elif inst.inverse:
            fee_asset = inst.settle or inst.base
            basis = ex.quantity * inst.contract_size / ex.price
            quote_qty = basis  # base-asset value of the contracts
        else:
            fee_asset = inst.settle or inst.quote
            basis = quote_qty
        commission = (basis * rate).quantize(Decimal("0.00000001"))
        exec_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        return Trade(
            trade_id,
            self.venue_api,
            order.symbol,
            order.order_id,
            order.client_order_id,
            order.side,
            ex.price,
            ex.quantity,
            quote_qty,
            commission,
            fee_asset,
            is_maker,
            now,
            exec_id,
        )


def new_order(venue: Venue, **fields) -> Order:
    """An Order for `venue` with defaults filled in (created/seq are set by submit)."""
    fields.setdefault("created", 0)
    return Order(venue_api=venue.venue_api, **fields)


__all__ = ["NEW", "Order", "Trade", "Venue", "new_order"]

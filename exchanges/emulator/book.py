"""One instrument's order book and matching engine (venue-neutral, Decimal only).

The book holds two kinds of liquidity:

- user orders (every order a client placed), kept per price level in arrival order;
- synthetic liquidity: `levels` price levels on each side of a reference price, the first one
  `depth_unit` large and each further one bigger, standing in for the rest of the market.
  Taking synthetic liquidity consumes it until the reference price moves, which rebuilds it.

Matching is price-time priority. At one price the synthetic quantity is older than any user
order (it stands for the market that was there first), so it trades first. After every
operation the book is uncrossed: the best bid is below the best ask. When the reference price
moves across a resting user order, that order fills at its own limit price as the maker
(`reprice`), which is how resting orders fill in the emulated market.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from exchanges.emulator.instruments import Instrument
from exchanges.emulator.numbers import ZERO, ceil_to, floor_to

BUY, SELL = "BUY", "SELL"
# Internal order statuses (Binance's words; each venue serialises its own vocabulary).
NEW, PARTIALLY_FILLED, FILLED = "NEW", "PARTIALLY_FILLED", "FILLED"
CANCELED, EXPIRED, REJECTED = "CANCELED", "EXPIRED", "REJECTED"
OPEN_STATUSES = frozenset({NEW, PARTIALLY_FILLED})

SYNTHETIC_LEVELS = 40
SPREAD_FRACTION = Decimal("0.00005")  # half spread, as a fraction of the reference price
LEVEL_GAP_FRACTION = Decimal("0.0001")  # distance between synthetic levels


@dataclass(eq=False)
class Order:
    venue_api: str
    symbol: str
    order_id: int | str
    client_order_id: str
    side: str
    type: str  # LIMIT | MARKET
    time_in_force: str  # GTC | IOC | FOK | GTX (post-only) | ...
    price: Decimal | None
    quantity: Decimal
    created: int  # ms since the epoch
    post_only: bool = False
    reduce_only: bool = False
    filled: Decimal = ZERO
    quote_filled: Decimal = ZERO  # sum of price * quantity over fills
    status: str = NEW
    updated: int = 0
    seq: int = 0  # time priority; a new value means the order lost its place
    text: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def average_price(self) -> Decimal | None:
        return self.quote_filled / self.filled if self.filled else None

    def apply_fill(self, price: Decimal, quantity: Decimal, now: int) -> None:
        assert ZERO < quantity <= self.remaining, (quantity, self.remaining)
        self.filled += quantity
        self.quote_filled += price * quantity
        self.status = FILLED if self.filled == self.quantity else PARTIALLY_FILLED
        self.updated = now


@dataclass(frozen=True)
class Execution:
    """One match: `taker` traded `quantity` at `price` against `maker` (None = synthetic)."""

    taker: Order | None  # None when a resting order filled against moved synthetic liquidity
    maker: Order | None
    price: Decimal
    quantity: Decimal


class _Side:
    """User orders of one side: price levels in priority order, FIFO within a level."""

    def __init__(self, side: str):
        self.side = side
        self._prices: list[Decimal] = []  # ascending
        self._levels: dict[Decimal, deque[Order]] = {}

    def add(self, order: Order) -> None:
        level = self._levels.get(order.price)
        if level is None:
            level = self._levels[order.price] = deque()
            bisect.insort(self._prices, order.price)
        level.append(order)

    def remove(self, order: Order) -> None:
        level = self._levels.get(order.price)
        if level is None or order not in level:
            return
        level.remove(order)
        if not level:
            self._drop_level(order.price)

    def _drop_level(self, price: Decimal) -> None:
        del self._levels[price]
        index = bisect.bisect_left(self._prices, price)
        del self._prices[index]

    def best(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.side == BUY else self._prices[0]

    def prices(self) -> Iterator[Decimal]:
        return reversed(self._prices) if self.side == BUY else iter(self._prices)

    def level(self, price: Decimal) -> deque[Order]:
        return self._levels.get(price, deque())

    def orders(self) -> Iterator[Order]:
        for price in list(self.prices()):
            yield from list(self._levels[price])

    def pop_filled(self, price: Decimal) -> None:
        level = self._levels.get(price)
        while level and not level[0].is_open:
            level.popleft()
        if level is not None and not level:
            self._drop_level(price)


class Book:
    def __init__(self, instrument: Instrument, reference: Decimal, levels: int = SYNTHETIC_LEVELS):
        self.instrument = instrument
        self.levels = levels
        self.bids = _Side(BUY)
        self.asks = _Side(SELL)
        self.reference = reference
        self.synthetic = {BUY: [], SELL: []}  # side -> [[price, remaining], ...] best first
        self._rebuild_synthetic()

    # --- synthetic liquidity -------------------------------------------------------------
    def _rebuild_synthetic(self) -> None:
        inst = self.instrument
        tick, ref = inst.tick, self.reference
        half = max(tick, floor_to(ref * SPREAD_FRACTION, tick))
        gap = max(tick, floor_to(ref * LEVEL_GAP_FRACTION, tick))
        ask0, bid0 = ceil_to(ref + half, tick), floor_to(ref - half, tick)
        asks, bids = [], []
        for k in range(self.levels):
            size = max(inst.step, floor_to(inst.depth_unit * (k + 1), inst.step))
            asks.append([ask0 + gap * k, size])
            if bid0 - gap * k > ZERO:
                bids.append([bid0 - gap * k, size])
        self.synthetic = {SELL: asks, BUY: bids}

    def _synthetic_best(self, side: str) -> list | None:
        for level in self.synthetic[side]:
            if level[1] > ZERO:
                return level
        return None

    # --- queries -------------------------------------------------------------------------
    def _user(self, side: str) -> _Side:
        return self.bids if side == BUY else self.asks

    def best(self, side: str) -> Decimal | None:
        """Best price on `side` (BUY = best bid) over user and synthetic liquidity."""
        user = self._user(side).best()
        synth = self._synthetic_best(side)
        candidates = [p for p in (user, synth[0] if synth else None) if p is not None]
        if not candidates:
            return None
        return max(candidates) if side == BUY else min(candidates)

    def depth(self, side: str, limit: int) -> list[tuple[Decimal, Decimal]]:
        """Aggregated [(price, quantity)] for `side`, best first."""
        totals: dict[Decimal, Decimal] = {}
        for price, remaining in self.synthetic[side]:
            if remaining > ZERO:
                totals[price] = totals.get(price, ZERO) + remaining
        user = self._user(side)
        for price in user.prices():
            qty = sum((o.remaining for o in user.level(price)), ZERO)
            if qty > ZERO:
                totals[price] = totals.get(price, ZERO) + qty
        ordered = sorted(totals.items(), reverse=(side == BUY))
        return ordered[:limit]

    def crosses(self, side: str, price: Decimal | None) -> bool:
        """Would an order on `side` at `price` (None = market) take liquidity at once?"""
        opposite = self.best(SELL if side == BUY else BUY)
        if opposite is None:
            return False
        if price is None:
            return True
        return price >= opposite if side == BUY else price <= opposite

    def available(self, side: str, price: Decimal | None, exclude: Order | None = None) -> Decimal:
        """Quantity an order on `side` could take at `price` or better right now."""
        opposite = SELL if side == BUY else BUY
        total = ZERO
        for level_price, remaining in self.synthetic[opposite]:
            if self._acceptable(side, price, level_price):
                total += remaining
        for order in self._user(opposite).orders():
            if order is not exclude and self._acceptable(side, price, order.price):
                total += order.remaining
        return total

    @staticmethod
    def _acceptable(side: str, limit: Decimal | None, price: Decimal) -> bool:
        if limit is None:
            return True
        return price <= limit if side == BUY else price >= limit

    def open_orders(self) -> list[Order]:
        return [*self.bids.orders(), *self.asks.orders()]

    # --- operations ----------------------------------------------------------------------
    def match(self, taker: Order, now: int) -> list[Execution]:
        """Fill `taker` against the opposite side as far as its price allows."""
        executions: list[Execution] = []
        opposite = SELL if taker.side == BUY else BUY
        user = self._user(opposite)
        while taker.remaining > ZERO:
            price = self.best(opposite)
            if price is None or not self._acceptable(taker.side, taker.price, price):
                break
            synth = self._synthetic_best(opposite)
            if synth is not None and synth[0] == price:
                qty = min(synth[1], taker.remaining)
                synth[1] -= qty
                taker.apply_fill(price, qty, now)
                executions.append(Execution(taker, None, price, qty))
                continue
            maker = user.level(price)[0]
            qty = min(maker.remaining, taker.remaining)
            maker.apply_fill(price, qty, now)
            taker.apply_fill(price, qty, now)
            executions.append(Execution(taker, maker, price, qty))
            user.pop_filled(price)
        return executions

    def rest(self, order: Order) -> None:
        self._user(order.side).add(order)

    def remove(self, order: Order) -> None:
        self._user(order.side).remove(order)

    def fill_resting(self, order: Order, quantity: Decimal, price: Decimal, now: int) -> Execution:
        """An outside fill of a resting order (the control API's 'fill')."""
        order.apply_fill(price, quantity, now)
        if not order.is_open:
            self.remove(order)
        return Execution(None, order, price, quantity)

    def reprice(self, reference: Decimal, now: int) -> list[Execution]:
        """Move the reference price; resting orders the market crosses fill as makers."""
        self.reference = reference
        self._rebuild_synthetic()
        executions: list[Execution] = []
        for side in (BUY, SELL):
            user, opposite = self._user(side), SELL if side == BUY else BUY
            for order in list(user.orders()):
                while order.is_open:
                    synth = self._synthetic_best(opposite)
                    if synth is None or not self._acceptable(side, order.price, synth[0]):
                        break
                    qty = min(synth[1], order.remaining)
                    synth[1] -= qty
                    order.apply_fill(order.price, qty, now)
                    executions.append(Execution(None, order, order.price, qty))
                if not order.is_open:
                    user.remove(order)
        return executions

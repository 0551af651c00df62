"""The one entry point adapters use to call a venue: rate budget -> breaker -> call -> retries.

CONTRACT (adapters depend on exactly this signature; the reliability issue fills in the body):

    guarded_call(venue_api, operation, fn, *, weight=1, orders=0, priority=Priority.NORMAL,
                 deadline=None) -> result of fn()

- venue_api: "binance.spot" | "binance.usdm" | "binance.coinm" | "bitmex"
- operation: "submit" | "amend" | "cancel" | "query" | "market_data" | "instruments" | ...
- fn: a zero-argument callable doing ONE HTTP exchange and returning a Response-like result.
  It raises a reliability.errors.VenueError subclass on failure (already classified). It may
  return an object with `.headers` so the budget can correct itself from venue headers.
- weight / orders: the venue's request weight and order-count cost of the call.
- priority: cancels and reconciliation reads (HIGH) go before new orders (NORMAL) when short.
- deadline: absolute time.time() after which no further attempt starts.

Raises BreakerOpenError / RateLimitedError (sent=False) when refused before sending, or the
last VenueError when retries are exhausted. An OutcomeUnknownError from a submit is never
retried here: it goes straight back to the caller (the resolver handles it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Priority(enum.IntEnum):
    HIGH = 0  # cancels, reconciliation reads
    NORMAL = 1  # new orders, amends
    LOW = 2  # market data, instrument refresh


def guarded_call(
    venue_api: str,
    operation: str,
    fn: Callable[[], T],
    *,
    weight: int = 1,
    orders: int = 0,
    priority: Priority = Priority.NORMAL,
    deadline: float | None = None,
) -> T:
    # Placeholder until the reliability layer lands: a direct call.
    return fn()

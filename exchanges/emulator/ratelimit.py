"""Venue rate limits as the venues enforce them.

Binance: fixed windows aligned to the clock (request weight per minute, order counts per 10 s and
per day or minute). A request over the weight limit gets 429 with Retry-After; a client that
keeps sending after its 429s is banned: 418 with Retry-After until the ban ends, and every new
ban lasts twice as long as the last (2 minutes up to 3 days on the real venue).

BitMEX: token buckets (120 requests per minute on every route, 10 per second more on order
routes), `x-ratelimit-*` headers on every response, 429 with Retry-After when empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INTERVAL_MS = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}


@dataclass(frozen=True)
class Window:
    rate_limit_type: str  # REQUEST_WEIGHT | ORDERS
    interval: str  # SECOND | MINUTE | DAY
    interval_num: int
    limit: int

    @property
    def length_ms(self) -> int:
        return INTERVAL_MS[self.interval] * self.interval_num

    @property
    def header_suffix(self) -> str:
        return f"{self.interval_num}{LETTER[self.interval]}"

    def as_json(self) -> dict:
        return {
            "rateLimitType": self.rate_limit_type,
            "interval": self.interval,
            "intervalNum": self.interval_num,
            "limit": self.limit,
        }


@dataclass
class BinanceLimits:
    """Limits of one Binance API (spot, USDⓈ-M or COIN-M) and its ban escalation."""

    windows: list[Window]
    ban_after: int = 5  # 429s a client may ignore within a window before it is banned
    first_ban_seconds: int = 120
    max_ban_seconds: int = 3 * 86_400

    @classmethod
    def defaults(cls, api: str) -> BinanceLimits:
        if api == "binance.spot":
            windows = [
                Window("REQUEST_WEIGHT", "MINUTE", 1, 6000),
                Window("ORDERS", "SECOND", 10, 100),
                Window("ORDERS", "DAY", 1, 200000),
                Window("RAW_REQUESTS", "MINUTE", 5, 61000),
            ]
        elif api == "binance.usdm":
            windows = [
                Window("REQUEST_WEIGHT", "MINUTE", 1, 2400),
                Window("ORDERS", "MINUTE", 1, 1200),
                Window("ORDERS", "SECOND", 10, 300),
            ]
        else:
            windows = [
                Window("REQUEST_WEIGHT", "MINUTE", 1, 6000),
                Window("ORDERS", "MINUTE", 1, 6000),
            ]
        return cls(windows)


@dataclass
class Verdict:
    status: int = 200  # 200 = go ahead, 429 or 418
    retry_after: int = 0
    code: int = 0
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class BinanceLimiter:
    def __init__(self, limits: BinanceLimits):
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        self._used: dict[Window, tuple[int, int]] = {}  # window -> (window start, used)
        self._ignored = 0  # 429s answered in the current minute
        self._ignored_window = 0
        self.banned_until = 0
        self._next_ban_ms = self.limits.first_ban_seconds * 1000

    def _current(self, window: Window, now: int) -> int:
        start = now - now % window.length_ms
        begun, used = self._used.get(window, (start, 0))
        return used if begun == start else 0

    def _add(self, window: Window, now: int, amount: int) -> None:
        start = now - now % window.length_ms
        self._used[window] = (start, self._current(window, now) + amount)

    def _windows(self, kind: str) -> list[Window]:
        return [w for w in self.limits.windows if w.rate_limit_type == kind]

    def weight_headers(self, now: int) -> dict[str, str]:
        return {
            f"X-MBX-USED-WEIGHT-{w.header_suffix}": str(self._current(w, now))
            for w in self._windows("REQUEST_WEIGHT")
        }

    def order_headers(self, now: int) -> dict[str, str]:
        return {
            f"X-MBX-ORDER-COUNT-{w.header_suffix}": str(self._current(w, now))
            for w in self._windows("ORDERS")
        }

    def check_request(self, weight: int, now: int) -> Verdict:
        """Charge `weight`; say 429/418 when the client is over its limit or banned."""
        if now < self.banned_until:
            return self._ban_verdict(now)
        over: Window | None = None
        for window in self._windows("REQUEST_WEIGHT"):
            self._add(window, now, weight)
            if self._current(window, now) > window.limit:
                over = window
        if over is None:
            return Verdict(headers=self.weight_headers(now))
        minute = now // 60_000
        if minute != self._ignored_window:
            self._ignored_window, self._ignored = minute, 0
        self._ignored += 1
        if self._ignored > self.limits.ban_after:
            self.banned_until = now + self._next_ban_ms
            self._next_ban_ms = min(self._next_ban_ms * 2, self.limits.max_ban_seconds * 1000)
            self._ignored = 0
            return self._ban_verdict(now)
        retry = self._seconds_to_window_end(over, now)
        return Verdict(
            429,
            retry,
            -1003,
            f"Too much request weight used; current limit is {over.limit} request weight per "
            f"{over.interval_num} {over.interval}. Please use WebSocket Streams for live updates "
            "to avoid polling the API.",
            self.weight_headers(now),
        )

    def _ban_verdict(self, now: int) -> Verdict:
        return Verdict(
            418,
            max(1, math.ceil((self.banned_until - now) / 1000)),
            -1003,
            f"Way too much request weight used; IP banned until {self.banned_until}. Please use "
            "WebSocket Streams for live updates to avoid bans.",
            self.weight_headers(now),
        )

    @staticmethod
    def _seconds_to_window_end(window: Window, now: int) -> int:
        end = now - now % window.length_ms + window.length_ms
        return max(1, math.ceil((end - now) / 1000))

    def check_order(self, now: int) -> Verdict:
        """Count one new order; 429 -1015 when an order-count window is full."""
        for window in self._windows("ORDERS"):
            if self._current(window, now) + 1 > window.limit:
                return Verdict(
                    429,
                    self._seconds_to_window_end(window, now),
                    -1015,
                    f"Too many new orders; current limit is {window.limit} orders per "
                    f"{window.interval_num} {window.interval}.",
                    self.order_headers(now),
                )
        for window in self._windows("ORDERS"):
            self._add(window, now, 1)
        return Verdict(headers=self.order_headers(now))


@dataclass
class BitmexLimits:
    per_minute: int = 120  # every authenticated route
    order_per_second: int = 10  # POST/PUT/DELETE /order, DELETE /order/all


class _Bucket:
    def __init__(self, capacity: int, refill_per_ms: float):
        self.capacity = capacity
        self.refill_per_ms = refill_per_ms  # tokens per ms (a rate, not money: float is fine)
        self.tokens = float(capacity)
        self.at = 0

    def refill(self, now: int) -> None:
        if self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.refill_per_ms)
        self.at = now

    def seconds_until(self, tokens: float) -> int:
        missing = tokens - self.tokens
        return 0 if missing <= 0 else max(1, math.ceil(missing / self.refill_per_ms / 1000))


class BitmexLimiter:
    def __init__(self, limits: BitmexLimits):
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        self.minute = _Bucket(self.limits.per_minute, self.limits.per_minute / 60_000)
        self.second = _Bucket(self.limits.order_per_second, self.limits.order_per_second / 1000)

    def check(self, now: int, order_route: bool) -> Verdict:
        self.minute.refill(now)
        self.second.refill(now)
        wait = self.minute.seconds_until(1)
        if order_route:
            wait = max(wait, self.second.seconds_until(1))
        if wait:
            return Verdict(
                429,
                wait,
                0,
                f"Rate limit exceeded, retry in {wait} seconds.",
                self.headers(now, order_route),
            )
        self.minute.tokens -= 1
        if order_route:
            self.second.tokens -= 1
        return Verdict(headers=self.headers(now, order_route))

    def headers(self, now: int, order_route: bool) -> dict[str, str]:
        reset_s = now // 1000 + self.minute.seconds_until(1)
        headers = {
            "x-ratelimit-limit": str(self.limits.per_minute),
            "x-ratelimit-remaining": str(int(self.minute.tokens)),
            "x-ratelimit-reset": str(reset_s),
        }
        if order_route:
            headers["x-ratelimit-remaining-1s"] = str(int(self.second.tokens))
        return headers

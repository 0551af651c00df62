"""The machinery behind each venue's classification table (exchanges/<venue>/errors.py).

A table is an ordered tuple of Rules; the first rule that matches a response decides its class.
A rule names the HTTP status(es), venue code(s), a message fragment, the endpoints and venue APIs
it applies to, and two classes: the one for a write (a call that can create, amend or cancel an
order) and the one for a read. Reads never have an unknown outcome: repeating them is harmless,
so where a write's outcome is unknown a read is simply retryable.

Transport failures (no HTTP response) are venue-independent and classified here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from exchanges.errors import OutcomeUnknownError, RetryableError, VenueError


@dataclass(frozen=True)
class ResponseContext:
    """What a rule may look at."""

    venue_api: str
    method: str  # GET, POST, PUT, DELETE
    endpoint: str  # path without query, e.g. /api/v3/order
    status: int
    code: int | str | None  # venue error code (-2010) or error name (BitMEX "HTTPError")
    message: str  # venue error message ('' when none)
    write: bool  # the call can create, amend or cancel an order


def _as_tuple(value) -> tuple | range | None:
    if value is None or isinstance(value, range):
        return value
    if isinstance(value, tuple | list | frozenset | set):
        return tuple(value)
    return (value,)


@dataclass(frozen=True, init=False)
class Rule:
    error: type[VenueError]
    read_error: type[VenueError]
    status: tuple | None
    code: tuple | None
    message: str | None
    endpoints: tuple | None
    methods: tuple | None
    venue_apis: tuple | None
    reason: str

    def __init__(
        self,
        error: type[VenueError],
        *,
        read_error: type[VenueError] | None = None,
        status: int | Iterable[int] | None = None,
        code: int | str | Iterable | None = None,
        message: str | None = None,
        endpoints: str | Iterable[str] | None = None,
        methods: str | Iterable[str] | None = None,
        venue_apis: str | Iterable[str] | None = None,
        reason: str = "",
    ):
        set_ = object.__setattr__
        set_(self, "error", error)
        set_(self, "read_error", read_error or error)
        set_(self, "status", _as_tuple(status))
        set_(self, "code", _as_tuple(code))
        set_(self, "message", message.lower() if message else None)
        set_(self, "endpoints", _as_tuple(endpoints))
        set_(self, "methods", _as_tuple(methods))
        set_(self, "venue_apis", _as_tuple(venue_apis))
        set_(self, "reason", reason)

    def matches(self, ctx: ResponseContext) -> bool:
        return (
            (self.status is None or ctx.status in self.status)
            and (self.code is None or ctx.code in self.code)
            and (self.message is None or self.message in ctx.message.lower())
            and (self.endpoints is None or any(ctx.endpoint.endswith(e) for e in self.endpoints))
            and (self.methods is None or ctx.method in self.methods)
            and (self.venue_apis is None or ctx.venue_api in self.venue_apis)
        )

    def error_for(self, ctx: ResponseContext) -> type[VenueError]:
        return self.error if ctx.write else self.read_error


def first_match(table: Iterable[Rule], ctx: ResponseContext) -> Rule:
    for rule in table:
        if rule.matches(ctx):
            return rule
    raise LookupError(f"no classification rule matches {ctx}")  # tables end with a catch-all


SERVER_ERRORS = range(500, 600)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_BANNED_UNTIL = re.compile(r"banned until (\d{13})")


def ban_seconds_from_message(message: str, *, now: float) -> float | None:
    """Binance -1003 "Way too much request weight used; IP banned until 1663816011235." (ms)."""
    match = _BANNED_UNTIL.search(message or "")
    if not match:
        return None
    return max(0.0, int(match.group(1)) / 1000 - now)


def classify_transport(exc: httpx.TransportError, *, venue_api: str, write: bool) -> VenueError:
    """A failure without an HTTP response.

    Connect errors and pool timeouts happen before a byte of the request left: retryable with
    sent=False (the router may fail over). Anything later (read/write timeout, connection reset
    or closed mid-exchange) may have reached the engine: outcome unknown for a write, retryable
    for a read.
    """
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return RetryableError(
            f"{venue_api}: not sent ({name}: {exc})", venue=venue_api, code=name, sent=False
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError):
        return RetryableError(
            f"{venue_api}: not sent ({name}: {exc})", venue=venue_api, code=name, sent=False
        )
    cls = OutcomeUnknownError if write else RetryableError
    return cls(f"{venue_api}: no response ({name}: {exc})", venue=venue_api, code=name, sent=True)

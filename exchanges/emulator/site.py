"""What one emulator port is: its venue APIs, credentials, faults and outage state, and the
ASGI middleware that applies scripted faults and outages before the venue routes see a request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from exchanges.emulator.faults import FaultRule, FaultSet
from exchanges.emulator.venue import Venue, now_ms

log = structlog.get_logger(__name__)

CONTROL_PREFIX = "/_emulator/"


class Site:
    """One port: Binance (three venue APIs) or BitMEX (one)."""

    name = ""

    def __init__(self, venues: dict[str, Venue], credentials: dict[str, str]):
        self.venues = venues
        self.credentials = dict(credentials)
        # The venue's clock runs this far ahead of (or, negative, behind) the host's: clock
        # skew as a client sees it (-1021, expired api-expires) without touching the host.
        self.clock_offset_ms = 0
        for venue in venues.values():
            if venue.clock is now_ms:
                venue.clock = self.now_ms
        self.faults = FaultSet()
        self.outage_until = 0.0  # time.monotonic() deadline
        self.outage_mode = "refuse"
        # Set by the server: close / reopen the listening socket for "refuse" outages.
        self.on_outage: Callable[[float], None] | None = None
        self.started = datetime.now(UTC)
        self._timers: dict[object, asyncio.TimerHandle] = {}

    def now_ms(self) -> int:
        return now_ms() + self.clock_offset_ms

    # --- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.clock_offset_ms = 0
        for venue in self.venues.values():
            venue.reset()
        self.faults.remove()
        self.end_outage()
        self.reset_limits()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def arm_timer(self, key: object, seconds: float, callback: Callable[[], None]) -> None:
        """(Re)arm a dead-man's switch; seconds <= 0 disarms it. Runs on the event loop."""
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()
        if seconds > 0:
            self._timers[key] = asyncio.get_running_loop().call_later(seconds, callback)

    def reset_limits(self) -> None:
        """Restore the configured rate limits and forget usage (venue-specific)."""

    def start_outage(self, seconds: float, mode: str) -> None:
        self.outage_until = time.monotonic() + seconds
        self.outage_mode = mode
        log.warning("emulator.outage", site=self.name, seconds=seconds, mode=mode)
        if mode == "refuse" and self.on_outage is not None:
            self.on_outage(seconds)

    def end_outage(self) -> None:
        was_down = self.outage_active()
        self.outage_until = 0.0
        if was_down and self.outage_mode == "refuse" and self.on_outage is not None:
            self.on_outage(0)

    def outage_active(self) -> bool:
        return time.monotonic() < self.outage_until

    # --- venue-specific answers ------------------------------------------------------------
    def error_body(self, status: int, path: str) -> Any:
        raise NotImplementedError

    def rate_limit_body(self, retry_after: int) -> Any:
        raise NotImplementedError

    def outage_body(self) -> Any:
        raise NotImplementedError


Send = Callable[[dict], Awaitable[None]]


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None):
    from exchanges.emulator.jsonenc import dumps

    payload = body if isinstance(body, bytes) else dumps(body)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    for key, value in (headers or {}).items():
        raw_headers.append((key.lower().encode(), str(value).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def drop_connection(send: Send) -> None:
    """Close the client's TCP connection without a response (uvicorn's transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("cannot reach the connection's transport to drop it")
    transport.close()


class VenueRouter:
    """Exact-path dispatch for the venue endpoints (Starlette's router tries every route's
    regex in turn, which costs more than the endpoint itself); anything else goes to the
    Starlette app behind it (control API, 404, 405)."""

    def __init__(self, app, routes: dict[str, dict[str, Callable]]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            handler = self.routes.get(scope["path"], {}).get(scope["method"])
            if handler is not None:
                return await handler(scope, receive, send)
        return await self.app(scope, receive, send)


def asgi_endpoint(func: Callable[[Request], Awaitable[Response]]):
    async def app(scope, receive, send):
        response = await func(Request(scope, receive))
        await response(scope, receive, send)

    return app


class FaultMiddleware:
    """Outermost ASGI layer of a port: outage (503 mode) and the scripted fault rules."""

    def __init__(self, app, site: Site):
        self.app = app
        self.site = site

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            return await self.app(scope, receive, send)
        site = self.site
        if site.outage_active():
            if site.outage_mode == "refuse":
                drop_connection(send)  # a connection accepted just before the outage began
                return None
            return await send_json(send, 503, site.outage_body())
        rule = site.faults.pick(scope["method"], scope["path"]) if site.faults.rules else None
        if rule is None:
            return await self.app(scope, receive, send)
        log.info(
            "emulator.fault",
            site=site.name,
            rule=rule.id,
            effect=rule.effect,
            method=scope["method"],
            path=scope["path"],
        )
        return await self._apply(rule, scope, receive, send)

    async def _apply(self, rule: FaultRule, scope, receive, send):
        site = self.site
        if rule.effect == "latency":
            await asyncio.sleep(rule.delay)
            return await self.app(scope, receive, send)
        if rule.effect == "rate_limit":
            return await send_json(
                send,
                429,
                site.rate_limit_body(rule.retry_after),
                {"Retry-After": str(rule.retry_after)},
            )
        body = rule.body if rule.body is not None else site.error_body(rule.status, scope["path"])
        if rule.effect == "error" and not rule.accept:
            return await send_json(send, rule.status, body)
        if rule.effect == "drop" and not rule.accept:
            drop_connection(send)
            return None
        captured: list[dict] = []

        async def capture(message):
            captured.append(message)

        await self.app(scope, receive, capture)  # the venue processes the request
        if rule.effect == "error":
            return await send_json(send, rule.status, body)
        if rule.effect == "drop":
            drop_connection(send)
            return None
        await asyncio.sleep(rule.delay)  # timeout: held back beyond the client's patience
        for message in captured:
            await send(message)
        return None

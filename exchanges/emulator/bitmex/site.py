"""The BitMEX port: request pipeline (rate limit, api-key/api-expires/api-signature) and errors.

Errors are `{"error": {"message": ..., "name": "HTTPError" | "ValidationError" | ...}}` with the
venue's HTTP status. Parameters come from the query string, a JSON body or a form body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchanges.emulator import jsonenc
from exchanges.emulator.bitmex import signing
from exchanges.emulator.ratelimit import BitmexLimiter, BitmexLimits
from exchanges.emulator.site import Site
from exchanges.emulator.venue import Venue

OVERLOADED = "The system is currently overloaded. Please try again later."


class BitmexError(Exception):
    def __init__(self, status: int, message: str, name: str = "HTTPError"):
        super().__init__(message)
        self.status, self.message, self.name = status, message, name

    def body(self) -> dict:
        return {"error": {"message": self.message, "name": self.name}}


@dataclass
class Ctx:
    site: BitmexSite
    venue: Venue
    params: dict[str, Any]
    now: int
    authenticated: bool

    def get(self, name: str) -> Any:
        value = self.params.get(name)
        return None if value in (None, "") else value


Handler = Callable[[Ctx], object]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    private: bool = False
    order_route: bool = False


class BitmexSite(Site):
    name = "bitmex"

    def __init__(self, venues, credentials, limits: BitmexLimits | None = None):
        super().__init__(venues, credentials)
        self.configured_limits = limits or BitmexLimits()
        self.limiter = BitmexLimiter(self.configured_limits)
        self.events: list[tuple[int, str, object, str]] = []  # (ms, execType, order, text)

    @property
    def venue(self) -> Venue:
        return self.venues["bitmex"]

    def reset(self) -> None:
        super().reset()
        self.events.clear()

    def reset_limits(self) -> None:
        self.limiter = BitmexLimiter(getattr(self, "configured_limits", BitmexLimits()))

    def set_limits(self, limits: BitmexLimits) -> None:
        self.limiter = BitmexLimiter(limits)

    def error_body(self, status: int, path: str) -> dict:
        if status == 503:
            return {"error": {"message": OVERLOADED, "name": "HTTPError"}}
        if status >= 500:
            return {"error": {"message": "Internal Server Error", "name": "HTTPError"}}
        return {"error": {"message": "Bad Request", "name": "HTTPError"}}

    def rate_limit_body(self, retry_after: int) -> dict:
        return {
            "error": {
                "message": f"Rate limit exceeded, retry in {retry_after} seconds.",
                "name": "RateLimitError",
            }
        }

    def outage_body(self) -> dict:
        return {"error": {"message": "Service Unavailable", "name": "HTTPError"}}

    def arm_cancel_all_after(self, timeout_ms: int) -> None:
        def fire() -> None:
            for order in self.venue.open_orders():
                self.venue.cancel(order)
                self.events.append(
                    (self.venue.clock(), "Canceled", order, "Canceled: Cancel from cancelAllAfter")
                )

        self.arm_timer("cancelAllAfter", timeout_ms / 1000, fire)

    # --- the pipeline --------------------------------------------------------------------
    def route(self, endpoint: Endpoint) -> Route:
        async def handle(request: Request) -> Response:
            return await self._handle(endpoint, request)

        return Route(endpoint.path, handle, methods=[endpoint.method])

    async def _handle(self, endpoint: Endpoint, request: Request) -> Response:
        now = self.venue.clock()
        raw_body = (await request.body()).decode("utf-8")
        verdict = self.limiter.check(now, endpoint.order_route)
        headers = dict(verdict.headers)
        if verdict.status != 200:
            headers["Retry-After"] = str(verdict.retry_after)
            return _json(429, self.rate_limit_body(verdict.retry_after), headers)
        try:
            authenticated = self._authenticate(request, raw_body, endpoint.private)
            params = self._params(request, raw_body)
            result = endpoint.handler(Ctx(self, self.venue, params, now, authenticated))
        except BitmexError as error:
            return _json(error.status, error.body(), headers)
        return _json(200, result, headers)

    @staticmethod
    def _params(request: Request, raw_body: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(request.url.query, keep_blank_values=True))
        if not raw_body:
            return params
        content_type = request.headers.get("content-type", "")
        if "json" in content_type or raw_body.lstrip().startswith("{"):
            try:
                body = jsonenc.loads(raw_body)
            except json.JSONDecodeError:
                raise BitmexError(400, "Unable to parse JSON body", "HTTPError") from None
            if not isinstance(body, dict):
                raise BitmexError(400, "Request body must be a JSON object", "HTTPError")
            params.update(body)
        else:
            params.update(parse_qsl(raw_body, keep_blank_values=True))
        return params

    def _authenticate(self, request: Request, raw_body: str, required: bool) -> bool:
        key = request.headers.get("api-key")
        if not key:
            if required:
                raise BitmexError(401, "Authorization Required", "HTTPError")
            return False
        secret = self.credentials.get(key)
        if secret is None:
            raise BitmexError(401, "Invalid API Key.", "HTTPError")
        expires = request.headers.get("api-expires", "")
        if not expires.isdigit():
            raise BitmexError(401, "Missing or invalid api-expires header.", "HTTPError")
        now_s = self.now_ms() // 1000
        if int(expires) < now_s:
            raise BitmexError(
                401,
                f"This request has expired - `expires` is in the past. Current time: {now_s}",
                "HTTPError",
            )
        path = (request.scope.get("raw_path") or b"").decode("latin-1") or request.url.path
        if request.url.query:
            path += "?" + request.url.query
        signature = request.headers.get("api-signature", "")
        if not signing.verify(secret, request.method, path, expires, raw_body, signature):
            raise BitmexError(401, "Signature not valid.", "HTTPError")
        return True


def _json(status: int, payload: Any, headers: dict[str, str]) -> Response:
    return Response(
        jsonenc.dumps(payload), status_code=status, headers=headers, media_type="application/json"
    )

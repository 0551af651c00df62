"""The Binance port: request pipeline shared by spot, USDⓈ-M and COIN-M.

Every request goes through the same steps as on the venue: charge its weight (429 / 418 when
over the limit or banned), check security for SIGNED endpoints (API key, signature over query
string + body, timestamp within recvWindow), count new orders (-1015), run the endpoint, and
answer with `X-MBX-USED-WEIGHT-1M` (and `X-MBX-ORDER-COUNT-*` on order endpoints).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchanges.emulator.binance import signing
from exchanges.emulator.numbers import parse_decimal
from exchanges.emulator.ratelimit import BinanceLimiter, BinanceLimits, Verdict
from exchanges.emulator.site import Site
from exchanges.emulator.venue import Venue

MAX_RECV_WINDOW = 60_000


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400, data: dict | None = None):
        super().__init__(msg)
        self.code, self.msg, self.status, self.data = code, msg, status, data

    def body(self) -> dict:
        body = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            body["data"] = self.data
        return body


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


@dataclass
class Ctx:
    site: BinanceSite
    api: str
    venue: Venue
    params: dict[str, str]
    now: int

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        raw = self.require(name) if required else self.get(name)
        if raw is None:
            return None
        value = parse_decimal(raw)
        if value is None:
            raise mandatory(name)
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise BinanceError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
            ) from None


Handler = Callable[[Ctx], object]


@dataclass(frozen=True)
class Endpoint:
    api: str
    method: str
    path: str
    handler: Handler
    signed: bool = False
    weight: int | Callable[[dict], int] = 1
    new_order: bool = False  # counts on the order-count limits


class BinanceSite(Site):
    name = "binance"

    def __init__(self, venues, credentials, limits: dict[str, BinanceLimits] | None = None):
        super().__init__(venues, credentials)
        self.configured_limits = dict(limits or {})
        self.limiters: dict[str, BinanceLimiter] = {}
        self.reset_limits()

    def reset_limits(self) -> None:
        self.limiters = {
            api: BinanceLimiter(self.configured_limits.get(api) or BinanceLimits.defaults(api))
            for api in self.venues
        }

    def set_limits(self, api: str, limits: BinanceLimits) -> None:
        self.limiters[api] = BinanceLimiter(limits)

    def arm_countdown(self, api: str, symbol: str, countdown_ms: int) -> None:
        """countdownCancelAll: cancel every open order of `symbol` unless re-armed in time."""
        venue = self.venues[api]

        def fire() -> None:
            for order in venue.open_orders(symbol):
                venue.cancel(order)

        self.arm_timer((api, symbol), countdown_ms / 1000, fire)

    def error_body(self, status: int, path: str) -> dict:
        if status == 503 and path.startswith(("/fapi", "/dapi")):
            return {
                "code": -1000,
                "msg": "Unknown error, please check your request or try again later.",
            }
        if status == 408 or status >= 500:
            return {
                "code": -1007,
                "msg": "Timeout waiting for response from backend server. "
                "Send status unknown; execution status unknown.",
            }
        return {"code": -1000, "msg": "An unknown error occurred while processing the request."}

    def rate_limit_body(self, retry_after: int) -> dict:
        return {
            "code": -1003,
            "msg": "Too many requests; current limit of IP is exceeded. "
            f"Please retry after {retry_after} seconds.",
        }

    def outage_body(self) -> dict:
        return {"code": -1000, "msg": "Service Unavailable."}

    # --- the pipeline --------------------------------------------------------------------
    def route(self, endpoint: Endpoint) -> Route:
        async def handle(request: Request) -> Response:
            return await self._handle(endpoint, request)

        return Route(endpoint.path, handle, methods=[endpoint.method])

    async def _handle(self, endpoint: Endpoint, request: Request) -> Response:
        venue = self.venues[endpoint.api]
        limiter = self.limiters[endpoint.api]
        now = venue.clock()
        query = request.scope.get("query_string", b"").decode("latin-1")
        body = (await request.body()).decode("latin-1")
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(query, keep_blank_values=True))  # the query string wins
        weight = endpoint.weight(params) if callable(endpoint.weight) else endpoint.weight
        verdict = limiter.check_request(weight, now)
        headers = dict(verdict.headers)
        if verdict.status != 200:
            return self._refuse(verdict, headers)
        try:
            if endpoint.signed:
                self._check_security(request, query, body, params, now, endpoint.api)
            if endpoint.new_order:
                order_verdict = limiter.check_order(now)
                headers.update(order_verdict.headers)
                if order_verdict.status != 200:
                    return self._refuse(order_verdict, headers)
            ctx = Ctx(self, endpoint.api, venue, params, now)
            result = endpoint.handler(ctx)
        except BinanceError as error:
            return _json(error.status, error.body(), headers)
        status, payload = result if isinstance(result, tuple) else (200, result)
        return _json(status, payload, headers)

    @staticmethod
    def _refuse(verdict: Verdict, headers: dict[str, str]) -> Response:
        headers["Retry-After"] = str(verdict.retry_after)
        return _json(verdict.status, {"code": verdict.code, "msg": verdict.message}, headers)

    def _check_security(self, request, query, body, params, now, api) -> None:
        api_key = request.headers.get("x-mbx-apikey")
        if not api_key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        secret = self.credentials.get(api_key)
        if secret is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw_ts = params.get("timestamp")
        if not raw_ts or not raw_ts.isdigit():
            raise mandatory("timestamp")
        if not params.get("signature"):
            raise mandatory("signature")
        if not signing.verify(query, body, secret):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        timestamp = int(raw_ts)
        if api == "binance.spot" and timestamp > 10**14:
            timestamp //= 1000  # spot accepts microseconds
        recv_window = parse_decimal(params.get("recvWindow") or "5000")
        if recv_window is None or recv_window <= 0:
            raise mandatory("recvWindow")
        if recv_window > MAX_RECV_WINDOW:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        if timestamp >= now + 1000:
            raise BinanceError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > recv_window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def _json(status: int, payload: object, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )

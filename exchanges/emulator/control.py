"""The control API under `/_emulator/` on each port: ground truth, faults, outages, prices.

| call | body / query | does |
|---|---|---|
| `GET orders` | `?venue_api=&symbol=&client_order_id=&open=true` | every order this port's venues hold |
| `GET trades` | `?venue_api=&symbol=` | every fill |
| `POST faults` | a rule, or `{"rules": [...]}` (see faults.py) | add fault rules |
| `GET faults` / `DELETE faults` | `?id=N` to delete one | list / clear rules |
| `POST outage` | `{"seconds": N, "mode": "refuse"\\|"503", "venue": "binance"\\|"bitmex"}` | venue down |
| `DELETE outage` | `?venue=` | end an outage early |
| `POST reset` | | orders, trades, faults, outage, rate limits, prices back to the start |
| `POST price` | `{"symbol", "price", "venue_api"?}` | move the reference; crossed resting orders fill |
| `GET price` | `?symbol=&venue_api=` | reference and best bid/ask |
| `POST fill` | `{"order_id"\\|"client_order_id", "quantity"?, "price"?, "venue_api"?}` | fill a resting order |
| `POST limits` | `{"venue_api", "weight_per_minute"?, "orders_per_10s"?, ...}` | small rate limits for tests |
| `POST clock` / `GET clock` | `{"offset_ms": N}` | the venue's clock runs N ms ahead (skew) |
| `GET health` | | `{"ok": true}` |

Errors: `{"error": "..."}` with 400 / 404. Numbers are decimal strings.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from exchanges.emulator.binance.site import BinanceSite
from exchanges.emulator.bitmex.routes import STATUS as BITMEX_STATUS
from exchanges.emulator.book import BUY, SELL, Order
from exchanges.emulator.faults import FaultError
from exchanges.emulator.numbers import parse_decimal, plain
from exchanges.emulator.ratelimit import BinanceLimits, BitmexLimits, Window
from exchanges.emulator.venue import Trade, Venue

if TYPE_CHECKING:
    from exchanges.emulator.server import Emulator
    from exchanges.emulator.site import Site


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _num(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def order_json(order: Order) -> dict:
    status = BITMEX_STATUS[order.status] if order.venue_api == "bitmex" else order.status
    return {
        "venue_api": order.venue_api,
        "symbol": order.symbol,
        "order_id": str(order.order_id),
        "client_order_id": order.client_order_id,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "post_only": order.post_only,
        "price": _num(order.price),
        "quantity": _num(order.quantity),
        "filled_quantity": _num(order.filled),
        "remaining_quantity": _num(order.remaining if order.is_open else Decimal(0)),
        "average_price": _num(order.average_price),
        "status": status,
        "open": order.is_open,
        "created_at": order.created,
        "updated_at": order.updated,
    }


def trade_json(trade: Trade) -> dict:
    return {
        "venue_api": trade.venue_api,
        "symbol": trade.symbol,
        "trade_id": trade.trade_id,
        "order_id": str(trade.order_id),
        "client_order_id": trade.client_order_id,
        "side": trade.side,
        "price": _num(trade.price),
        "quantity": _num(trade.quantity),
        "is_maker": trade.is_maker,
        "time": trade.time,
    }


class Control:
    def __init__(self, emulator: Emulator, site: Site):
        self.emulator = emulator
        self.site = site

    def routes(self) -> list[Route]:
        p = "/_emulator/"
        return [
            Route(p + "health", self.health, methods=["GET"]),
            Route(p + "orders", self.orders, methods=["GET"]),
            Route(p + "trades", self.trades, methods=["GET"]),
            Route(p + "faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route(p + "outage", self.outage, methods=["POST", "DELETE"]),
            Route(p + "reset", self.reset, methods=["POST"]),
            Route(p + "price", self.price, methods=["GET", "POST"]),
            Route(p + "fill", self.fill, methods=["POST"]),
            Route(p + "limits", self.limits, methods=["POST"]),
            Route(p + "clock", self.clock, methods=["GET", "POST"]),
        ]

    async def _call(self, request: Request, action) -> JSONResponse:
        try:
            body = {}
            if request.method in ("POST", "PUT"):
                raw = await request.body()
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ControlError("the body must be a JSON object")
            return JSONResponse(action(body, request.query_params))
        except ControlError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        except (FaultError, json.JSONDecodeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    # --- helpers -------------------------------------------------------------------------
    def _venues(self, api: str | None) -> list[Venue]:
        if api is None:
            return list(self.site.venues.values())
        if api not in self.site.venues:
            raise ControlError(f"unknown venue_api {api!r} on this port", 404)
        return [self.site.venues[api]]

    def _venue_for_symbol(self, symbol: str, api: str | None) -> Venue:
        matches = [v for v in self._venues(api) if symbol in v.instruments]
        if not matches:
            raise ControlError(f"unknown symbol {symbol!r}", 404)
        return matches[0]

    @staticmethod
    def _decimal(body: dict, name: str, required: bool = False) -> Decimal | None:
        if body.get(name) is None:
            if required:
                raise ControlError(f"{name} is required")
            return None
        value = parse_decimal(str(body[name]))
        if value is None or value <= 0:
            raise ControlError(f"{name} must be a positive decimal")
        return value

    # --- endpoints -----------------------------------------------------------------------
    async def health(self, request: Request):
        return JSONResponse({"ok": True, "site": self.site.name})

    async def orders(self, request: Request):
        def action(body, query):
            rows = []
            for venue in self._venues(query.get("venue_api")):
                for order in venue.orders:
                    if query.get("symbol") and order.symbol != query["symbol"]:
                        continue
                    if (
                        query.get("client_order_id")
                        and order.client_order_id != query["client_order_id"]
                    ):
                        continue
                    if query.get("open") == "true" and not order.is_open:
                        continue
                    rows.append(order_json(order))
            return {"orders": rows}

        return await self._call(request, action)

    async def trades(self, request: Request):
        def action(body, query):
            rows = [
                trade_json(t)
                for v in self._venues(query.get("venue_api"))
                for t in v.trades
                if not query.get("symbol") or t.symbol == query["symbol"]
            ]
            return {"trades": rows}

        return await self._call(request, action)

    async def faults(self, request: Request):
        def action(body, query):
            faults = self.site.faults
            if request.method == "DELETE":
                rule_id = query.get("id")
                return {"removed": faults.remove(int(rule_id) if rule_id else None)}
            if request.method == "POST":
                rules = body.get("rules", [body])
                added = [faults.add(rule) for rule in rules]
                return {"rules": [r.as_json() for r in added]}
            return {"rules": [r.as_json() for r in faults.rules]}

        return await self._call(request, action)

    async def outage(self, request: Request):
        def action(body, query):
            name = body.get("venue") or query.get("venue") or self.site.name
            site = self.emulator.sites.get(name)
            if site is None:
                raise ControlError(f"unknown venue {name!r}", 404)
            if request.method == "DELETE":
                site.end_outage()
                return {"venue": name, "down": False}
            seconds = float(body.get("seconds", 0))
            mode = body.get("mode", "refuse")
            if seconds <= 0 or mode not in ("refuse", "503"):
                raise ControlError("seconds must be > 0 and mode 'refuse' or '503'")
            site.start_outage(seconds, mode)
            return {"venue": name, "down": True, "seconds": seconds, "mode": mode}

        return await self._call(request, action)

    async def reset(self, request: Request):
        def action(body, query):
            self.site.reset()
            return {"reset": True}

        return await self._call(request, action)

    async def price(self, request: Request):
        def action(body, query):
            source = body if request.method == "POST" else query
            symbol = source.get("symbol")
            if not symbol:
                raise ControlError("symbol is required")
            venue = self._venue_for_symbol(symbol, source.get("venue_api"))
            fills = []
            if request.method == "POST":
                price = self._decimal(body, "price", required=True)
                fills = [trade_json(t) for t in venue.set_price(symbol, price)]
            book = venue.book(symbol)
            return {
                "venue_api": venue.venue_api,
                "symbol": symbol,
                "price": _num(book.reference),
                "bid": _num(book.best(BUY)),
                "ask": _num(book.best(SELL)),
                "fills": fills,
            }

        return await self._call(request, action)

    async def fill(self, request: Request):
        def action(body, query):
            order = None
            for venue in self._venues(body.get("venue_api")):
                if body.get("order_id") is not None:
                    key = body["order_id"]
                    order = venue.find(order_id=int(key) if str(key).isdigit() else str(key))
                elif body.get("client_order_id"):
                    order = venue.open_order_with_client_id(body["client_order_id"]) or venue.find(
                        client_order_id=body["client_order_id"]
                    )
                else:
                    raise ControlError("order_id or client_order_id is required")
                if order is not None:
                    break
            if order is None:
                raise ControlError("no such order", 404)
            if not order.is_open:
                raise ControlError(f"order is {order.status}, not open", 409)
            quantity = self._decimal(body, "quantity") or order.remaining
            price = self._decimal(body, "price") or order.price
            if quantity > order.remaining:
                raise ControlError(f"quantity exceeds the remaining {plain(order.remaining)}")
            if price is None:
                raise ControlError("price is required for an order without one")
            venue = self.site.venues[order.venue_api]
            trades = venue.fill(order, quantity, price)
            return {"order": order_json(order), "fills": [trade_json(t) for t in trades]}

        return await self._call(request, action)

    async def clock(self, request: Request):
        def action(body, query):
            if request.method == "POST":
                try:
                    self.site.clock_offset_ms = int(body.get("offset_ms", 0))
                except (TypeError, ValueError):
                    raise ControlError("offset_ms must be an integer") from None
            return {"server_time": self.site.now_ms(), "offset_ms": self.site.clock_offset_ms}

        return await self._call(request, action)

    async def limits(self, request: Request):
        def action(body, query):
            site = self.site
            if isinstance(site, BinanceSite):
                api = body.get("venue_api") or "binance.spot"
                if api not in site.venues:
                    raise ControlError(f"unknown venue_api {api!r}", 404)
                limits = _binance_limits(api, body)
                site.set_limits(api, limits)
                return {"venue_api": api, "rateLimits": [w.as_json() for w in limits.windows]}
            limits = BitmexLimits(
                per_minute=int(body.get("per_minute", 120)),
                order_per_second=int(body.get("order_per_second", 10)),
            )
            site.set_limits(limits)
            return {"per_minute": limits.per_minute, "order_per_second": limits.order_per_second}

        return await self._call(request, action)


def _binance_limits(api: str, body: dict) -> BinanceLimits:
    defaults = BinanceLimits.defaults(api)
    weight = int(body.get("weight_per_minute", _limit_of(defaults, "REQUEST_WEIGHT", "MINUTE")))
    windows = [Window("REQUEST_WEIGHT", "MINUTE", 1, weight)]
    if "orders_per_10s" in body or "orders_per_minute" in body or "orders_per_day" in body:
        if "orders_per_10s" in body:
            windows.append(Window("ORDERS", "SECOND", 10, int(body["orders_per_10s"])))
        if "orders_per_minute" in body:
            windows.append(Window("ORDERS", "MINUTE", 1, int(body["orders_per_minute"])))
        if "orders_per_day" in body:
            windows.append(Window("ORDERS", "DAY", 1, int(body["orders_per_day"])))
    else:
        windows += [w for w in defaults.windows if w.rate_limit_type != "REQUEST_WEIGHT"]
    return BinanceLimits(
        windows,
        ban_after=int(body.get("ban_after", defaults.ban_after)),
        first_ban_seconds=int(body.get("ban_seconds", defaults.first_ban_seconds)),
    )


def _limit_of(limits: BinanceLimits, kind: str, interval: str) -> int:
    for window in limits.windows:
        if window.rate_limit_type == kind and window.interval == interval:
            return window.limit
    return 0

"""BitmexAdapter (/api/v1), implementing exchanges.base.VenueAdapter.

Every HTTP exchange goes through reliability.guard.guarded_call: each request costs 1 of the
per-minute request budget, and order routes (POST/PUT/DELETE /order) also 1 of the per-second
order-route budget (`orders=1`). The callable handed to guarded_call signs afresh (api-expires =
injected clock + BITMEX_API_EXPIRES_SECONDS) and makes exactly one exchange.

Quantities: linear contracts are converted between base units and contracts with the
instrument's underlyingToPositionMultiplier, loaded once per process from /instrument/active
and refreshed when an unknown symbol is met (exchanges.bitmex.mapping.Contract).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import structlog

from exchanges.bitmex import mapping
from exchanges.bitmex.errors import classify_response
from exchanges.bitmex.signing import auth_headers, dumps
from exchanges.config import VenueConfig
from exchanges.errors import (
    InvalidRequestError,
    OutcomeUnknownError,
    RetryableError,
    UnknownOrderError,
    VenueError,
)
from exchanges.http import VenueHttp, VenueRequest, VenueResponse
from exchanges.types import AmendOrder, InstrumentInfo, PlaceOrder, VenueFill, VenueOrder
from reliability.guard import Priority, guarded_call

log = structlog.get_logger(__name__)
HIGH, NORMAL, LOW = Priority.HIGH, Priority.NORMAL, Priority.LOW
PREFIX = "/api/v1"
ORDER_ROUTES = {("POST", "/order"), ("PUT", "/order"), ("DELETE", "/order")}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.astimezone(UTC).microsecond // 1000:03d}Z"
    )


def _filter(**fields) -> str:
    return json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))


class BitmexAdapter:
    venue_api = mapping.VENUE
    PAGE_SIZE = 500  # `count` per page (BitMEX default 100; 500 is accepted by every version seen)

    def __init__(self, config: VenueConfig, *, clock: Callable[[], float] = time.time):
        self._config = config
        self._clock = clock
        self._http = VenueHttp(
            venue_api=self.venue_api,
            base_url=config.base_url,
            settings=config.http,
            classify=classify_response,
        )
        self._contracts: dict[str, mapping.Contract] = {}
        self._contracts_lock = threading.Lock()

    # --- transport --------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        query: dict | None,
        body: dict | None,
        *,
        operation: str,
        write: bool,
        client_order_id: str | None,
    ) -> VenueRequest:
        encoded = urlencode({k: v for k, v in (query or {}).items() if v is not None})
        data = dumps(body) if body else ""
        full = f"{PREFIX}{path}"
        signed_path = f"{full}?{encoded}" if encoded else full
        expires = int(self._clock()) + self._config.expires_seconds
        headers = auth_headers(
            self._config.api_key,
            self._config.api_secret,
            verb=method,
            path=signed_path,
            expires=expires,
            data=data,
        )
        if data:
            headers["Content-Type"] = "application/json"
        return VenueRequest(
            operation=operation,
            method=method,
            path=full,
            query=encoded,
            body=data.encode(),
            headers=headers,
            write=write,
            client_order_id=client_order_id,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        priority: Priority,
        query: dict | None = None,
        body: dict | None = None,
        write: bool = False,
        client_order_id: str | None = None,
    ) -> VenueResponse:
        def attempt() -> VenueResponse:
            return self._http.exchange(
                self._request(
                    method,
                    path,
                    query,
                    body,
                    operation=operation,
                    write=write,
                    client_order_id=client_order_id,
                )
            )

        orders = 1 if (method, path) in ORDER_ROUTES else 0
        return guarded_call(
            self.venue_api, operation, attempt, weight=1, orders=orders, priority=priority
        )

    def _parse(self, response: VenueResponse, write: bool, parse: Callable):
        try:
            return parse(response.data)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            cls = OutcomeUnknownError if write else RetryableError
            error = cls(
                f"bitmex: unreadable response ({exc})",
                venue=self.venue_api,
                status=response.status_code,
                code="unreadable",
                payload=response.data,
            )
            error.headers, error.call = response.headers, response.call
            raise error from exc

    # --- contracts --------------------------------------------------------------------------

    def _contract(self, venue_symbol: str) -> mapping.Contract:
        """The symbol's quantity conversion; loads /instrument/active when it is not known yet.
        A failure here happens before the order request, so it is reported as not sent."""
        contract = self._contracts.get(venue_symbol)
        if contract is not None:
            return contract
        try:
            self._load_instruments(priority=NORMAL)
        except VenueError as error:
            error.sent = False
            raise
        contract = self._contracts.get(venue_symbol)
        if contract is None:
            raise InvalidRequestError(
                f"bitmex does not list {venue_symbol}", venue=self.venue_api, code="unknown_symbol"
            )
        return contract

    def _contract_of(self, item: dict) -> mapping.Contract:
        """For reading the venue's answers: a symbol no longer listed (an expired future)
        is read in contracts as they are."""
        symbol = item.get("symbol", "")
        contract = self._contracts.get(symbol)
        if contract is not None:
            return contract
        try:
            return self._contract(symbol)
        except InvalidRequestError:  # instruments loaded; this symbol is not among them
            log.warning("bitmex_unlisted_symbol", venue_symbol=symbol)
            self._contracts[symbol] = mapping.Contract(symbol)
            return self._contracts[symbol]
        except VenueError:  # instruments unavailable right now
            return mapping.Contract(symbol)

    def _load_instruments(self, *, priority: Priority) -> list[dict]:
        response = self._call(
            "GET", "/instrument/active", operation="instruments", priority=priority
        )
        entries = response.data if isinstance(response.data, list) else []
        with self._contracts_lock:
            for entry in entries:
                if isinstance(entry, dict) and "symbol" in entry:
                    self._contracts[entry["symbol"]] = mapping.Contract.from_instrument(entry)
        return entries

    def _order(self, response: VenueResponse, *, write: bool) -> VenueOrder:
        return self._parse(
            response, write, lambda data: mapping.parse_order(data, self._contract_of(data))
        )

    def _orders(self, items: list[dict]) -> list[VenueOrder]:
        return [mapping.parse_order(item, self._contract_of(item)) for item in items]

    # --- VenueAdapter -----------------------------------------------------------------------

    def place_order(self, request: PlaceOrder) -> VenueOrder:
        body = mapping.order_body(request, self._contract(request.venue_symbol))
        response = self._call(
            "POST",
            "/order",
            operation="submit",
            priority=NORMAL,
            body=body,
            write=True,
            client_order_id=request.client_order_id,
        )
        return self._order(response, write=True)

    def amend_order(self, request: AmendOrder) -> VenueOrder:
        """PUT /order naming the order by origClOrdID (orderID when only that is known); the
        client id is kept (one id per intent), so new_client_order_id is not used."""
        if request.quantity is None and request.price is None:
            raise InvalidRequestError(
                "an amend changes the quantity or the price", venue=self.venue_api
            )
        contract = self._contract(request.venue_symbol)
        body = {
            **self._ident(
                request.client_order_id, request.venue_order_id, client_key="origClOrdID"
            ),
            "orderQty": None
            if request.quantity is None
            else contract.to_contracts(request.quantity),
            "price": request.price,
        }
        response = self._call(
            "PUT",
            "/order",
            operation="amend",
            priority=NORMAL,
            body=body,
            write=True,
            client_order_id=request.client_order_id,
        )
        return self._order(response, write=True)

    def cancel_all_after(self, *, seconds: float, venue_symbol: str | None = None) -> None:
        """Dead man's switch: POST /order/cancelAllAfter, account-wide (0 disarms it). The
        venue cancels every open order unless re-armed within `seconds`."""
        self._call(
            "POST",
            "/order/cancelAllAfter",
            operation="deadman",
            priority=HIGH,
            body={"timeout": int(seconds * 1000)},
        )

    def cancel_order(
        self,
        *,
        venue_symbol: str,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        """DELETE /order. An order already finished comes back with its final state (FILLED,
        CANCELED) and an `error` text instead of an error status: it is returned as is."""
        body = self._ident(client_order_id, venue_order_id, client_key="clOrdID")
        response = self._call(
            "DELETE",
            "/order",
            operation="cancel",
            priority=HIGH,
            body=body,
            write=True,
            client_order_id=client_order_id,
        )
        if isinstance(response.data, list) and not response.data:
            error = UnknownOrderError(
                "bitmex: cancel matched no order",
                venue=self.venue_api,
                status=response.status_code,
                code="empty",
            )
            error.headers, error.call = response.headers, response.call
            raise error
        return self._parse(
            response, True, lambda data: mapping.parse_order(data[0], self._contract_of(data[0]))
        )

    def get_order(
        self,
        *,
        venue_symbol: str,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder | None:
        """GET /order?filter={"clOrdID": ...} (or orderID), newest first. An empty list is the
        venue saying it holds no such order: None."""
        query = {
            "symbol": venue_symbol,
            "filter": _filter(**self._ident(client_order_id, venue_order_id, client_key="clOrdID")),
            "reverse": "true",
            "count": 1,
        }
        response = self._call(
            "GET",
            "/order",
            operation="query",
            priority=HIGH,
            query=query,
            client_order_id=client_order_id,
        )
        items = self._parse(response, False, list)
        if not items:
            return None
        return self._parse(response, False, lambda _: self._orders(items[:1])[0])

    def open_orders(self, *, venue_symbol: str | None = None) -> list[VenueOrder]:
        query = {"symbol": venue_symbol, "filter": _filter(open=True)}
        return self._orders(list(self._paged("/order", query)))

    def orders_between(
        self, *, venue_symbol: str, start: datetime, end: datetime
    ) -> list[VenueOrder]:
        """GET /order with startTime/endTime (BitMEX filters on the order's `timestamp`), paged
        with count/start until a short page."""
        query = {"symbol": venue_symbol, "startTime": iso(start), "endTime": iso(end)}
        orders = {o.venue_order_id: o for o in self._orders(list(self._paged("/order", query)))}
        return sorted(orders.values(), key=lambda o: (o.created_at or start, o.venue_order_id))

    def fills(
        self,
        *,
        venue_symbol: str,
        venue_order_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[VenueFill]:
        query = {
            "symbol": venue_symbol,
            "filter": _filter(execType="Trade", orderID=venue_order_id),
            "startTime": iso(start) if start else None,
            "endTime": iso(end) if end else None,
        }
        fills = {}
        for item in self._paged("/execution", query):
            fill = mapping.parse_execution(item, self._contract_of(item))
            fills[fill.trade_id] = fill
        return sorted(fills.values(), key=lambda f: (f.ts, f.trade_id))

    def instruments(self) -> list[InstrumentInfo]:
        entries = self._load_instruments(priority=LOW)
        parsed = (mapping.parse_instrument(entry) for entry in entries)
        return [info for info in parsed if info is not None]

    def server_time(self) -> datetime:
        """GET /api/v1 answers {"name", "version", "timestamp" (ms)}; the Date header is the
        fallback (1 s resolution)."""
        response = self._call("GET", "", operation="market_data", priority=LOW)
        data = response.data if isinstance(response.data, dict) else {}
        if data.get("timestamp"):
            return datetime.fromtimestamp(int(data["timestamp"]) / 1000, tz=UTC)
        return parsedate_to_datetime(response.headers["Date"]).astimezone(UTC)

    def ping(self, *, operation: str = "market_data") -> float:
        return self._call("GET", "", operation=operation, priority=LOW).call.duration

    def close(self) -> None:
        self._http.close()

    # --- helpers ----------------------------------------------------------------------------

    def _ident(
        self, client_order_id: str | None, venue_order_id: str | None, *, client_key: str
    ) -> dict:
        if venue_order_id and not client_order_id:
            return {"orderID": venue_order_id}
        if client_order_id:
            return {client_key: client_order_id}
        raise InvalidRequestError(
            "an order is named by a client order id or a venue order id", venue=self.venue_api
        )

    def _paged(self, path: str, query: dict) -> Iterator[dict]:
        offset = 0
        while True:
            response = self._call(
                "GET",
                path,
                operation="query",
                priority=HIGH,
                query={**query, "count": self.PAGE_SIZE, "start": offset},
            )
            page = self._parse(response, False, list)
            yield from page
            if len(page) < self.PAGE_SIZE:
                return
            offset += len(page)

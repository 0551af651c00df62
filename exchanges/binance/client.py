"""Binance adapters: BinanceSpotAdapter (/api/v3), BinanceUsdmAdapter (/fapi/v1),
BinanceCoinmAdapter (/dapi/v1). Each implements exchanges.base.VenueAdapter.

Every HTTP exchange goes through reliability.guard.guarded_call with the endpoint's documented
request weight and order-count cost, and a priority (cancels and reconciliation reads HIGH, new
orders and amends NORMAL, instruments and market data LOW). The callable handed to guarded_call
signs afresh (timestamp from the server-clock offset) and makes exactly one exchange.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from exchanges.binance import mapping
from exchanges.binance.errors import classify_response
from exchanges.binance.signing import API_KEY_HEADER, encode_params, signed_payload
from exchanges.clock import ServerClock
from exchanges.config import VenueConfig
from exchanges.errors import (
    AmendPartiallyFailedError,
    ClockSkewError,
    InvalidRequestError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    UnknownOrderError,
    VenueError,
)
from exchanges.http import VenueHttp, VenueRequest, VenueResponse
from exchanges.symbols import from_ms, to_ms
from exchanges.types import (
    AmendOrder,
    InstrumentInfo,
    OrderType,
    PlaceOrder,
    TimeInForce,
    VenueFill,
    VenueOrder,
)
from reliability.guard import Priority, guarded_call

HIGH, NORMAL, LOW = Priority.HIGH, Priority.NORMAL, Priority.LOW


@dataclass(frozen=True)
class Cost:
    """An endpoint's documented IP request weight and order-count cost."""

    weight: int
    orders: int = 0


class BinanceAdapter:
    venue_api: str
    prefix: str
    # (method, endpoint) -> cost; endpoints are relative to prefix.
    COSTS: dict[tuple[str, str], Cost]
    OPEN_ORDERS_ALL_WEIGHT: int  # openOrders without a symbol
    HISTORY_WINDOW: timedelta  # longest allOrders / trades startTime..endTime span
    HISTORY_LIMIT: int  # allOrders page size (the venue's maximum)
    TRADES_LIMIT: int = 1000
    TRADES_PATH = "userTrades"
    TRADES_BY_ORDER_WEIGHT: int | None = None  # when the venue charges less with orderId

    def __init__(self, config: VenueConfig, *, clock: Callable[[], float] = time.time):
        self._config = config
        self._clock = ServerClock(clock=clock, max_age=config.time_sync_seconds)
        self._http = VenueHttp(
            venue_api=self.venue_api,
            base_url=config.base_url,
            settings=config.http,
            classify=classify_response,
        )

    # --- transport --------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        endpoint: str,
        params: dict | None,
        *,
        signed: bool,
        operation: str,
        write: bool,
        client_order_id: str | None,
    ) -> VenueRequest:
        params = dict(params or {})
        headers = {}
        if signed:
            params["recvWindow"] = self._config.recv_window_ms
            params["timestamp"] = self._clock.now_ms()
            headers[API_KEY_HEADER] = self._config.api_key
        encoded = encode_params(params)
        in_body = signed and method in ("POST", "PUT")
        query, body = ("", encoded) if in_body else (encoded, "")
        if signed:
            query, body = signed_payload(self._config.api_secret, query=query, body=body)
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return VenueRequest(
            operation=operation,
            method=method,
            path=f"{self.prefix}/{endpoint}",
            query=query,
            body=body.encode(),
            headers=headers,
            write=write,
            client_order_id=client_order_id,
        )

    def _call(
        self,
        method: str,
        endpoint: str,
        params: dict | None = None,
        *,
        operation: str,
        priority: Priority,
        signed: bool = True,
        write: bool = False,
        client_order_id: str | None = None,
        weight: int | None = None,
    ) -> VenueResponse:
        cost = self.COSTS[(method, endpoint)]

        def attempt() -> VenueResponse:
            request = self._request(
                method,
                endpoint,
                params,
                signed=signed,
                operation=operation,
                write=write,
                client_order_id=client_order_id,
            )
            try:
                return self._http.exchange(request)
            except ClockSkewError as skew:
                # Nothing executed; the next attempt is stamped with the server's Date.
                self._clock.adopt_date_header(skew.headers.get("Date"))
                raise

        def guarded() -> VenueResponse:
            return guarded_call(
                self.venue_api,
                operation,
                attempt,
                weight=cost.weight if weight is None else weight,
                orders=cost.orders,
                priority=priority,
            )

        if not signed:
            return guarded()
        if self._clock.needs_sync():
            self.sync_time()
        try:
            return guarded()
        except ClockSkewError:
            # -1021: nothing executed. Re-measure the offset and try exactly once more.
            self._clock.invalidate()
            self.sync_time()
            return guarded()

    def sync_time(self) -> None:
        sent_at = self._clock.local()
        response = self._call("GET", "time", operation="market_data", priority=HIGH, signed=False)
        self._clock.record(
            server_ms=int(response.data["serverTime"]),
            sent_at=sent_at,
            received_at=self._clock.local(),
        )

    def _order(
        self, response: VenueResponse, *, write: bool, client_id_field: str = "clientOrderId"
    ) -> VenueOrder:
        return self._parse(
            response,
            write,
            lambda data: mapping.parse_order(self.venue_api, data, client_id_field=client_id_field),
        )

    def _parse(self, response: VenueResponse, write: bool, parse: Callable):
        try:
            return parse(response.data)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise self._unreadable(response, write, str(exc)) from exc

    def _unreadable(self, response: VenueResponse, write: bool, reason: str) -> VenueError:
        """A 2XX we cannot read: for a write the venue may have acted, so the outcome is
        unknown; a read may simply be repeated."""
        cls = OutcomeUnknownError if write else RetryableError
        error = cls(
            f"{self.venue_api}: unreadable response ({reason})",
            venue=self.venue_api,
            status=response.status_code,
            code="unreadable",
            payload=response.data,
        )
        error.headers, error.call = response.headers, response.call
        return error

    def _ident(
        self, client_order_id: str | None, venue_order_id: str | None, *, cancel: bool = False
    ) -> dict:
        if venue_order_id:
            return {"cancelOrderId" if cancel else "orderId": int(venue_order_id)}
        if client_order_id:
            key = "cancelOrigClientOrderId" if cancel else "origClientOrderId"
            return {key: client_order_id}
        raise InvalidRequestError(
            "an order is named by a client order id or a venue order id", venue=self.venue_api
        )

    # --- VenueAdapter -----------------------------------------------------------------------

    def place_order(self, request: PlaceOrder) -> VenueOrder:
        params = mapping.order_params(self.venue_api, request)
        response = self._call(
            "POST",
            "order",
            params,
            operation="submit",
            priority=NORMAL,
            write=True,
            client_order_id=request.client_order_id,
        )
        return self._order(response, write=True)

    def cancel_order(
        self,
        *,
        venue_symbol: str,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        params = {"symbol": venue_symbol, **self._ident(client_order_id, venue_order_id)}
        response = self._call(
            "DELETE",
            "order",
            params,
            operation="cancel",
            priority=HIGH,
            write=True,
            client_order_id=client_order_id,
        )
        # Spot answers with the cancel's own id in clientOrderId, the order's in origClientOrderId.
        return self._order(response, write=True, client_id_field="origClientOrderId")

    def get_order(
        self,
        *,
        venue_symbol: str,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder | None:
        params = {"symbol": venue_symbol, **self._ident(client_order_id, venue_order_id)}
        try:
            response = self._call(
                "GET",
                "order",
                params,
                operation="query",
                priority=HIGH,
                client_order_id=client_order_id,
            )
        except UnknownOrderError:
            return None  # -2013 "Order does not exist.": the venue proves it absent
        return self._order(response, write=False)

    def open_orders(self, *, venue_symbol: str | None = None) -> list[VenueOrder]:
        params = {"symbol": venue_symbol} if venue_symbol else {}
        weight = None if venue_symbol else self.OPEN_ORDERS_ALL_WEIGHT
        response = self._call(
            "GET", "openOrders", params, operation="query", priority=HIGH, weight=weight
        )
        return self._parse(
            response,
            False,
            lambda data: [mapping.parse_order(self.venue_api, item) for item in data],
        )

    def orders_between(
        self, *, venue_symbol: str, start: datetime, end: datetime
    ) -> list[VenueOrder]:
        orders: dict[str, VenueOrder] = {}
        for item in self._walk(
            "allOrders", {"symbol": venue_symbol}, start, end, self.HISTORY_LIMIT
        ):
            order = self._parse_item(lambda d: mapping.parse_order(self.venue_api, d), item)
            orders[order.venue_order_id] = order
        return sorted(orders.values(), key=lambda o: (o.created_at or start, o.venue_order_id))

    def fills(
        self,
        *,
        venue_symbol: str,
        venue_order_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[VenueFill]:
        params: dict = {"symbol": venue_symbol}
        if venue_order_id is not None:
            items = self._trades_of_order(params, venue_order_id)
        elif start is not None:
            items = self._walk(
                self.TRADES_PATH, params, start, end or self._server_now(), self.TRADES_LIMIT
            )
        else:
            items = self._page(self.TRADES_PATH, {**params, "limit": self.TRADES_LIMIT})
        fills = {}
        for item in items:
            fill = self._parse_item(lambda d: mapping.parse_fill(self.venue_api, d), item)
            fills[fill.trade_id] = fill
        return sorted(fills.values(), key=lambda f: (f.ts, f.trade_id))

    def instruments(self) -> list[InstrumentInfo]:
        response = self._call(
            "GET", "exchangeInfo", operation="instruments", priority=LOW, signed=False
        )
        return self._parse(
            response, False, lambda data: mapping.parse_instruments(self.venue_api, data)
        )

    def server_time(self) -> datetime:
        response = self._call("GET", "time", operation="market_data", priority=LOW, signed=False)
        return self._parse(response, False, lambda data: from_ms(data["serverTime"]))

    def ping(self, *, operation: str = "market_data") -> float:
        response = self._call("GET", "ping", operation=operation, priority=LOW, signed=False)
        return response.call.duration

    def close(self) -> None:
        self._http.close()

    # --- amend (per venue API) --------------------------------------------------------------

    def amend_order(self, request: AmendOrder) -> VenueOrder:
        raise NotImplementedError

    def _current(self, request: AmendOrder) -> VenueOrder:
        order = self.get_order(
            venue_symbol=request.venue_symbol,
            client_order_id=request.client_order_id,
            venue_order_id=request.venue_order_id,
        )
        if order is None:
            raise UnknownOrderError(
                f"{self.venue_api}: order to amend does not exist",
                venue=self.venue_api,
                code=-2013,
                sent=False,
            )
        return order

    # --- history walking --------------------------------------------------------------------

    def _server_now(self) -> datetime:
        return from_ms(self._clock.now_ms())

    def _page(self, endpoint: str, params: dict, weight: int | None = None) -> list[dict]:
        response = self._call(
            "GET", endpoint, params, operation="query", priority=HIGH, weight=weight
        )
        if not isinstance(response.data, list):
            raise self._unreadable(response, False, "expected a list")
        return response.data

    def _walk(
        self, endpoint: str, params: dict, start: datetime, end: datetime, limit: int
    ) -> Iterator[dict]:
        """Every item in [start, end): windows no longer than the venue allows; a full page
        means the window holds more, so it is split in halves (works whichever end of the
        window the venue pages from)."""
        window_ms = int(self.HISTORY_WINDOW.total_seconds() * 1000)
        cursor, stop = to_ms(start), to_ms(end)
        while cursor < stop:
            upper = min(cursor + window_ms, stop) - 1  # endTime is inclusive
            yield from self._span(endpoint, params, cursor, upper, limit)
            cursor = upper + 1

    def _span(
        self, endpoint: str, params: dict, first: int, last: int, limit: int
    ) -> Iterator[dict]:
        page = self._page(endpoint, {**params, "startTime": first, "endTime": last, "limit": limit})
        if len(page) < limit or first >= last:
            yield from page
            return
        middle = (first + last) // 2
        yield from self._span(endpoint, params, first, middle, limit)
        yield from self._span(endpoint, params, middle + 1, last, limit)

    def _trades_of_order(self, params: dict, venue_order_id: str) -> Iterator[dict]:
        query = {**params, "orderId": int(venue_order_id), "limit": self.TRADES_LIMIT}
        while True:
            page = self._page(self.TRADES_PATH, query, self.TRADES_BY_ORDER_WEIGHT)
            yield from page
            if len(page) < self.TRADES_LIMIT:
                return
            query = {**query, "fromId": int(page[-1]["id"]) + 1}

    def _parse_item(self, parse: Callable, item):
        try:
            return parse(item)
        except (ValueError, TypeError, KeyError) as exc:
            raise RetryableError(
                f"{self.venue_api}: unreadable history item ({exc})",
                venue=self.venue_api,
                code="unreadable",
                payload=item,
            ) from exc


class BinanceSpotAdapter(BinanceAdapter):
    venue_api = mapping.SPOT
    prefix = "/api/v3"
    COSTS = {
        ("GET", "ping"): Cost(1),
        ("GET", "time"): Cost(1),
        ("GET", "exchangeInfo"): Cost(20),
        ("POST", "order"): Cost(1, orders=1),
        ("GET", "order"): Cost(4),
        ("DELETE", "order"): Cost(1),
        ("POST", "order/cancelReplace"): Cost(1, orders=1),
        ("PUT", "order/amend/keepPriority"): Cost(4),  # unfilled order count 0
        ("GET", "openOrders"): Cost(6),
        ("GET", "allOrders"): Cost(20),
        ("GET", "myTrades"): Cost(20),  # 5 with orderId (passed explicitly)
    }
    OPEN_ORDERS_ALL_WEIGHT = 80
    HISTORY_WINDOW = timedelta(hours=24)  # allOrders / myTrades: startTime..endTime <= 24 h
    HISTORY_LIMIT = 1000
    TRADES_PATH = "myTrades"
    TRADES_BY_ORDER_WEIGHT = 5

    def amend_order(self, request: AmendOrder) -> VenueOrder:
        """Only a smaller quantity at the same price: PUT order/amend/keepPriority (keeps queue
        priority and the client order id). Anything else: POST order/cancelReplace with
        STOP_ON_FAILURE and the caller's new_client_order_id for the replacement."""
        incomplete = None in (request.quantity, request.price, request.side, request.order_type)
        current = self._current(request) if incomplete else None
        if (
            current is not None
            and request.quantity is not None
            and request.price in (None, current.price)
            and request.quantity < current.quantity
        ):
            return self._keep_priority(request)
        return self._cancel_replace(request, current)

    def _keep_priority(self, request: AmendOrder) -> VenueOrder:
        params = {
            "symbol": request.venue_symbol,
            **self._ident(request.client_order_id, request.venue_order_id),
            # Without it the venue mints a new client id; one id per intent keeps ours.
            "newClientOrderId": request.client_order_id,
            "newQty": request.quantity,
        }
        response = self._call(
            "PUT",
            "order/amend/keepPriority",
            params,
            operation="amend",
            priority=NORMAL,
            write=True,
            client_order_id=request.client_order_id,
        )

        def parse(data):
            amended = {**data["amendedOrder"], "updateTime": data.get("transactTime")}
            return mapping.parse_order(self.venue_api, amended)

        return self._parse(response, True, parse)

    def _cancel_replace(self, request: AmendOrder, current: VenueOrder | None) -> VenueOrder:
        if not request.new_client_order_id:
            raise InvalidRequestError(
                "binance.spot cancelReplace needs AmendOrder.new_client_order_id",
                venue=self.venue_api,
            )
        replacement = self._replacement(request, current)
        params = {
            **mapping.order_params(self.venue_api, replacement),
            "cancelReplaceMode": "STOP_ON_FAILURE",
            **self._ident(request.client_order_id, request.venue_order_id, cancel=True),
        }
        try:
            response = self._call(
                "POST",
                "order/cancelReplace",
                params,
                operation="amend",
                priority=NORMAL,
                write=True,
                client_order_id=request.client_order_id,
            )
        except AmendPartiallyFailedError as error:
            self._explain_partial(error)
            raise
        except RejectedError as error:
            raise self._unknown_if_cancel_missed(error) from error
        return self._parse(
            response,
            True,
            lambda data: mapping.parse_order(self.venue_api, data["newOrderResponse"]),
        )

    def _replacement(self, request: AmendOrder, current: VenueOrder | None) -> PlaceOrder:
        tif = request.time_in_force
        if tif is None and current is not None:
            raw = current.raw
            tif = (
                TimeInForce.POST_ONLY
                if raw.get("type") == "LIMIT_MAKER"
                else mapping.TIME_IN_FORCE_FROM.get(raw.get("timeInForce"))
            )
        order_type = request.order_type or current.order_type
        return PlaceOrder(
            venue_symbol=request.venue_symbol,
            client_order_id=request.new_client_order_id,
            side=request.side or current.side,
            order_type=order_type,
            quantity=request.quantity if request.quantity is not None else current.quantity,
            price=(request.price if request.price is not None else current.price)
            if order_type is OrderType.LIMIT
            else None,
            time_in_force=tif if order_type is OrderType.LIMIT else None,
        )

    def _explain_partial(self, error: AmendPartiallyFailedError) -> None:
        data = (error.payload or {}).get("data") or {}
        for key, attr in (("cancelResponse", "canceled_order"), ("newOrderResponse", "new_order")):
            part = data.get(key)
            if isinstance(part, dict) and "orderId" in part and "status" in part:
                setattr(
                    error,
                    attr,
                    mapping.parse_order(
                        self.venue_api,
                        part,
                        client_id_field="origClientOrderId"
                        if key == "cancelResponse"
                        else "clientOrderId",
                    ),
                )

    def _unknown_if_cancel_missed(self, error: RejectedError) -> VenueError:
        """-2022 whose cancel leg says -2011 / -2013: the order to amend is unknown."""
        data = (error.payload or {}).get("data") if isinstance(error.payload, dict) else None
        cancel = (data or {}).get("cancelResponse") or {}
        if error.code == -2022 and cancel.get("code") in (-2011, -2013):
            unknown = UnknownOrderError(
                error.message,
                venue=error.venue,
                status=error.status,
                code=error.code,
                payload=error.payload,
            )
            unknown.headers, unknown.call = error.headers, error.call
            return unknown
        return error


class _FuturesAdapter(BinanceAdapter):
    HISTORY_WINDOW = timedelta(days=7) - timedelta(milliseconds=1)  # "less than 7 days"

    def _modify_params(self, request: AmendOrder, current: VenueOrder | None) -> dict:
        raise NotImplementedError

    def _needs_current(self, request: AmendOrder) -> bool:
        raise NotImplementedError

    def amend_order(self, request: AmendOrder) -> VenueOrder:
        """PUT .../order: LIMIT orders only; the order keeps its ids and is re-queued."""
        current = self._current(request) if self._needs_current(request) else None
        params = {
            "symbol": request.venue_symbol,
            **self._ident(request.client_order_id, request.venue_order_id),
            "side": mapping.SIDES[request.side or current.side],
            **self._modify_params(request, current),
        }
        response = self._call(
            "PUT",
            "order",
            params,
            operation="amend",
            priority=NORMAL,
            write=True,
            client_order_id=request.client_order_id,
        )
        return self._order(response, write=True)

    def cancel_all_after(self, *, seconds: float, venue_symbol: str | None = None) -> None:
        """Dead man's switch: POST .../countdownCancelAll for one symbol (0 disarms it). The
        venue cancels the symbol's open orders unless re-armed within `seconds`."""
        if not venue_symbol:
            raise InvalidRequestError(
                "countdownCancelAll is armed per symbol", venue=self.venue_api
            )
        params = {"symbol": venue_symbol, "countdownTime": int(seconds * 1000)}
        self._call("POST", "countdownCancelAll", params, operation="deadman", priority=HIGH)


class BinanceUsdmAdapter(_FuturesAdapter):
    venue_api = mapping.USDM
    prefix = "/fapi/v1"
    COSTS = {
        ("GET", "ping"): Cost(1),
        ("GET", "time"): Cost(1),
        ("GET", "exchangeInfo"): Cost(1),
        # New order / modify: 0 IP weight in one copy of the docs, 1 in another: count 1.
        ("POST", "order"): Cost(1, orders=1),
        ("PUT", "order"): Cost(1, orders=1),
        ("GET", "order"): Cost(1),
        ("DELETE", "order"): Cost(1),
        ("GET", "openOrders"): Cost(1),
        ("GET", "allOrders"): Cost(5),
        ("GET", "userTrades"): Cost(5),
        ("POST", "countdownCancelAll"): Cost(10),
    }
    OPEN_ORDERS_ALL_WEIGHT = 40
    HISTORY_LIMIT = 1000

    def _needs_current(self, request: AmendOrder) -> bool:
        return None in (request.side, request.quantity, request.price)

    def _modify_params(self, request: AmendOrder, current: VenueOrder | None) -> dict:
        # /fapi modify needs quantity AND price, even when only one changes.
        return {
            "quantity": request.quantity if request.quantity is not None else current.quantity,
            "price": request.price if request.price is not None else current.price,
        }


class BinanceCoinmAdapter(_FuturesAdapter):
    venue_api = mapping.COINM
    prefix = "/dapi/v1"
    COSTS = {
        ("GET", "ping"): Cost(1),
        ("GET", "time"): Cost(1),
        ("GET", "exchangeInfo"): Cost(1),
        ("POST", "order"): Cost(1, orders=1),  # 0 IP weight documented; counted as 1
        ("PUT", "order"): Cost(1, orders=1),
        ("GET", "order"): Cost(1),
        ("DELETE", "order"): Cost(1),
        ("GET", "openOrders"): Cost(1),
        ("GET", "allOrders"): Cost(20),
        ("GET", "userTrades"): Cost(20),
        ("POST", "countdownCancelAll"): Cost(10),
    }
    OPEN_ORDERS_ALL_WEIGHT = 40
    HISTORY_LIMIT = 100  # /dapi allOrders: default 50, max 100

    def _needs_current(self, request: AmendOrder) -> bool:
        return request.side is None

    def _modify_params(self, request: AmendOrder, current: VenueOrder | None) -> dict:
        if request.quantity is None and request.price is None:
            raise InvalidRequestError(
                "an amend changes the quantity or the price", venue=self.venue_api
            )
        return {"quantity": request.quantity, "price": request.price}


ADAPTERS = {
    cls.venue_api: cls for cls in (BinanceSpotAdapter, BinanceUsdmAdapter, BinanceCoinmAdapter)
}

"""The one HTTP exchange primitive both venues build on.

`VenueHttp.exchange(request)` sends exactly one request over a pooled httpx.Client with explicit
connect/read/write/pool timeouts, times it, decodes the JSON body with Decimals, lets the venue's
classification table turn a failure into exactly one VenueError subclass, and records the call
(log line and observers: exchanges.calls; guarded_call counts the attempt in the metrics). It returns a VenueResponse exposing `.headers`,
so reliability.guard.guarded_call can correct the shared rate budget from the venue's headers;
errors carry the same headers as `error.headers`.

Adapters pass `lambda: http.exchange(build())` to guarded_call, where build() signs the request
afresh (new timestamp / api-expires) each time guarded_call tries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from exchanges.calls import (
    OK,
    CallRecord,
    current_correlation_id,
    new_call_id,
    notify_finish,
    notify_start,
)
from exchanges.classify import classify_transport
from exchanges.errors import OutcomeUnknownError, RetryableError, VenueError


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts (seconds) and pool sizes for one venue API's client (trading/settings.py)."""

    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    write_timeout: float = 5.0
    pool_timeout: float = 2.0
    max_connections: int = 10
    max_keepalive: int = 5
    keepalive_expiry: float = 4.0

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )

    def limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive,
            keepalive_expiry=self.keepalive_expiry,
        )


@dataclass(frozen=True)
class VenueRequest:
    operation: str
    method: str
    path: str  # /api/v3/order
    query: str = ""  # already encoded (and signed); never logged
    body: bytes = b""
    headers: dict = field(default_factory=dict, repr=False)
    write: bool = False  # can create, amend or cancel an order
    client_order_id: str | None = None

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class VenueResponse:
    status_code: int
    headers: httpx.Headers
    data: object  # decoded JSON (Decimals for JSON numbers with a fraction)
    call: CallRecord


# (venue_api, request, response, decoded body) -> the classified error, or None if it succeeded
ResponseClassifier = Callable[[str, VenueRequest, httpx.Response, object], VenueError | None]


# One decoder for every response (json.loads with parse_float builds a new one per call).
_DECODER = json.JSONDecoder(parse_float=Decimal)


def decode_json(content: bytes) -> object:
    """A response body: JSON numbers with a fraction as Decimal; None for an empty body;
    ValueError for anything that is not UTF-8 JSON (RFC 8259 allows no other encoding)."""
    text = content.decode("utf-8") if isinstance(content, bytes | bytearray) else content
    if not text.strip():
        return None
    return _DECODER.decode(text)


class VenueHttp:
    def __init__(
        self,
        *,
        venue_api: str,
        base_url: str,
        settings: HttpSettings,
        classify: ResponseClassifier,
        user_agent: str = "trading-platform/1.0",
    ):
        self.venue_api = venue_api
        self._classify = classify
        self._client = httpx.Client(
            base_url=base_url,
            timeout=settings.timeout(),
            limits=settings.limits(),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,
        )
        # httpx merges a relative URL with base_url by parsing both again, character by
        # character (a signed query is long): the request's URL is made absolute here and
        # parsed once, and a URL without a query (a POST with its parameters in the body) is
        # parsed once per process. Same URL as httpx's merge: base_url's path + the request's.
        base = str(self._client.base_url)  # httpx's base_url: its path ends in "/"
        self._base = base if base.endswith("/") else base + "/"  # ("http://host:port")
        self._parsed: dict[str, httpx.URL] = {}

    def url_of(self, request: VenueRequest) -> httpx.URL:
        """The absolute URL a request is sent to."""
        if request.query:
            return httpx.URL(f"{self._base}{request.path.lstrip('/')}?{request.query}")
        url = self._parsed.get(request.path)
        if url is None:
            if len(self._parsed) >= 256:  # paths are a venue's few endpoints; never grow
                self._parsed.clear()
            url = self._parsed[request.path] = httpx.URL(self._base + request.path.lstrip("/"))
        return url

    def close(self) -> None:
        self._client.close()

    def exchange(self, request: VenueRequest) -> VenueResponse:
        record = CallRecord(
            call_id=new_call_id(),
            venue_api=self.venue_api,
            operation=request.operation,
            method=request.method,
            endpoint=request.path,
            started_at=datetime.now(UTC),
            correlation_id=current_correlation_id(),
            client_order_id=request.client_order_id,
        )
        notify_start(record)
        started = time.perf_counter()
        response, data, error = self._send(request)
        record = record.finished(
            duration=time.perf_counter() - started,
            http_status=response.status_code if response is not None else None,
            outcome=OK if error is None else error.error_class.value,
            error_class=None if error is None else error.error_class,
            venue_code=None if error is None else error.code,
            message=None if error is None else error.message,
            sent=True if error is None else error.sent,
            retry_after=None if error is None else error.retry_after,
        )
        notify_finish(record)
        headers = response.headers if response is not None else httpx.Headers()
        if error is not None:
            error.headers = headers
            error.call = record
            raise error
        return VenueResponse(response.status_code, headers, data, record)

    def _send(self, request: VenueRequest):
        try:
            response = self._client.request(
                request.method,
                self.url_of(request),
                content=request.body,
                headers=request.headers,
            )
        except httpx.TransportError as exc:
            return (
                None,
                None,
                classify_transport(exc, venue_api=self.venue_api, write=request.write),
            )
        try:
            data = decode_json(response.content)
        except ValueError:
            data = {"_raw": response.text[:500]}
            if response.is_success:
                return response, data, self._undecodable(request, response)
        return response, data, self._classify(self.venue_api, request, response, data)

    def _undecodable(self, request: VenueRequest, response: httpx.Response) -> VenueError:
        cls = OutcomeUnknownError if request.write else RetryableError
        return cls(
            f"{self.venue_api}: undecodable {response.status_code} response",
            venue=self.venue_api,
            status=response.status_code,
            code="undecodable",
        )

"""Failure classification over real HTTP, with faults scripted in the emulator."""

from __future__ import annotations

import time

import pytest

from exchanges.binance.client import BinanceUsdmAdapter
from exchanges.calls import observe_calls
from exchanges.errors import BannedError, VenueUnavailableError
from exchanges.registry import adapter_for, config_for, reset_adapters
from exchanges.types import VenueStatus
from reliability.errors import ErrorClass, FatalError, OutcomeUnknownError, RetryableError
from tests.integration.exchanges.helpers import instruments_by_symbol, limit_order, market_order


@pytest.fixture
def venue(emulator, fake_clock, db):
    reset_adapters()
    yield adapter_for
    reset_adapters()


class SkewableClock:
    """The adapter's local clock, which the test can make jump."""

    def __init__(self):
        self.skew = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


def test_a_timestamp_outside_recv_window_resyncs_the_clock_and_succeeds(emulator, fake_clock, db):
    clock = SkewableClock()
    adapter = BinanceUsdmAdapter(config_for("binance.usdm"), clock=clock)
    try:
        info = instruments_by_symbol(adapter)["BTC/USDT:USDT"]
        adapter.sync_time()
        clock.skew = -30.0  # the local clock jumps 30 s back after the last sync
        request = limit_order(emulator, info)
        with observe_calls() as calls:
            placed = adapter.place_order(request)
        with observe_calls() as later:
            adapter.get_order(
                venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
            )
    finally:
        adapter.close()
    # -1021 (nothing executed) -> offset corrected from the answer's Date -> the retry passes
    assert [(c.endpoint, c.venue_code) for c in calls] == [
        ("/fapi/v1/order", -1021),
        ("/fapi/v1/order", None),
    ]
    assert calls[0].error_class is ErrorClass.RETRYABLE and calls[0].sent is True
    assert placed.status is VenueStatus.NEW
    assert len(emulator.orders("binance.usdm", client_order_id=request.client_order_id)) == 1
    # ... and the next call re-measures the offset precisely from /time first.
    assert [c.endpoint for c in later] == ["/fapi/v1/time", "/fapi/v1/order"]
    assert all(c.outcome == "ok" for c in later)


def test_without_a_date_header_the_adapter_resyncs_from_time_and_retries_once(
    emulator, fake_clock, db
):
    clock = SkewableClock()
    adapter = BinanceUsdmAdapter(config_for("binance.usdm"), clock=clock)
    adapter._clock.adopt_date_header = lambda date: False  # a venue that sends no usable Date
    try:
        info = instruments_by_symbol(adapter)["BTC/USDT:USDT"]
        adapter.sync_time()
        clock.skew = 30.0  # now 30 s ahead of the server
        request = limit_order(emulator, info)
        with observe_calls() as calls:
            placed = adapter.place_order(request)
    finally:
        adapter.close()
    endpoints = [(c.endpoint, c.venue_code) for c in calls]
    skewed = endpoints.index(("/fapi/v1/time", None))
    assert skewed >= 1 and set(endpoints[:skewed]) == {("/fapi/v1/order", -1021)}
    assert endpoints[skewed + 1 :] == [("/fapi/v1/order", None)]
    assert placed.status is VenueStatus.NEW
    assert len(emulator.orders("binance.usdm", client_order_id=request.client_order_id)) == 1


@pytest.mark.parametrize(
    ("venue_api", "path"),
    [
        ("binance.spot", "/api/v3/order"),
        ("binance.usdm", "/fapi/v1/order"),
        ("binance.coinm", "/dapi/v1/order"),
        ("bitmex", "/api/v1/order"),
    ],
)
def test_a_read_timeout_on_submit_is_outcome_unknown_and_the_order_exists(
    venue, emulator, settings, venue_api, path
):
    settings.VENUE_HTTP_READ_TIMEOUT = 0.5
    adapter = venue(venue_api)
    info = sorted(instruments_by_symbol(adapter).values(), key=lambda i: i.symbol)[0]
    request = limit_order(emulator, info)
    emulator.add_fault(venue_api, "timeout", method="POST", path=path, delay=5, count=1)
    with pytest.raises(OutcomeUnknownError) as caught:
        adapter.place_order(request)
    assert caught.value.sent is True
    assert caught.value.error_class is ErrorClass.OUTCOME_UNKNOWN
    assert caught.value.call.endpoint == path
    assert len(emulator.orders(venue_api, client_order_id=request.client_order_id)) == 1


@pytest.mark.parametrize("venue_api", ["binance.usdm", "bitmex"])
def test_connection_refused_is_retryable_and_never_sent(venue, emulator, venue_api):
    adapter = venue(venue_api)
    info = sorted(instruments_by_symbol(adapter).values(), key=lambda i: i.symbol)[0]
    request = limit_order(emulator, info)
    emulator.outage(venue_api, 30, mode="refuse")
    try:
        with observe_calls() as calls, pytest.raises(RetryableError) as caught:
            adapter.place_order(request)
    finally:
        emulator.end_outage(venue_api)
    assert caught.value.sent is False
    assert calls and all(c.sent is False for c in calls)
    assert emulator.orders(venue_api, client_order_id=request.client_order_id) == []


@pytest.mark.parametrize(
    ("venue_api", "path"),
    [
        ("binance.spot", "/api/v3/order"),
        ("bitmex", "/api/v1/order"),
    ],
)
def test_429_is_retryable_with_the_venues_retry_after(venue, emulator, venue_api, path):
    adapter = venue(venue_api)
    info = sorted(instruments_by_symbol(adapter).values(), key=lambda i: i.symbol)[0]
    request = limit_order(emulator, info)
    emulator.add_fault(venue_api, "rate_limit", method="POST", path=path, retry_after=7, count=1)
    with observe_calls() as calls:
        placed = adapter.place_order(request)
    limited = [c for c in calls if c.http_status == 429]
    assert len(limited) == 1
    assert limited[0].error_class is ErrorClass.RETRYABLE
    assert limited[0].retry_after == 7.0
    assert placed.client_order_id == request.client_order_id
    assert len(emulator.orders(venue_api, client_order_id=request.client_order_id)) == 1


def test_418_is_fatal_with_the_ban_duration(venue, emulator):
    adapter = venue("binance.usdm")
    info = instruments_by_symbol(adapter)["BTC/USDT:USDT"]
    request = limit_order(emulator, info)
    banned_until_ms = int((time.time() + 120) * 1000)
    emulator.add_fault(
        "binance.usdm",
        "error",
        method="POST",
        path="/fapi/v1/order",
        status=418,
        body={
            "code": -1003,
            "msg": f"Way too much request weight used; IP banned until {banned_until_ms}.",
        },
        count=1,
    )
    with pytest.raises(FatalError) as caught:
        adapter.place_order(request)
    assert isinstance(caught.value, BannedError)
    assert 60 < caught.value.retry_after <= 120
    assert caught.value.status == 418
    assert emulator.orders("binance.usdm", client_order_id=request.client_order_id) == []


def test_bitmex_overload_is_retried_and_places_once(venue, emulator):
    adapter = venue("bitmex")
    info = instruments_by_symbol(adapter)["BTC/USD:BTC"]
    request = market_order(emulator, info)
    emulator.add_fault(
        "bitmex",
        "error",
        method="POST",
        path="/api/v1/order",
        status=503,
        body={
            "error": {
                "message": "The system is currently overloaded. Please try again later.",
                "name": "HTTPError",
            }
        },
        count=1,
    )
    with observe_calls() as calls:
        placed = adapter.place_order(request)
    assert calls[0].http_status == 503 and calls[0].error_class is ErrorClass.RETRYABLE
    assert calls[0].venue_code == "HTTPError"
    assert placed.status is VenueStatus.FILLED
    assert len(emulator.orders("bitmex", client_order_id=request.client_order_id)) == 1
    assert VenueUnavailableError.error_class is ErrorClass.RETRYABLE


@pytest.mark.parametrize(
    ("venue_api", "path"),
    [
        ("binance.spot", "/api/v3/order"),
        ("binance.coinm", "/dapi/v1/order"),
    ],
)
def test_a_5xx_after_the_engine_accepted_is_outcome_unknown(venue, emulator, venue_api, path):
    adapter = venue(venue_api)
    info = sorted(instruments_by_symbol(adapter).values(), key=lambda i: i.symbol)[0]
    request = limit_order(emulator, info)
    emulator.add_fault(
        venue_api,
        "error",
        method="POST",
        path=path,
        status=500,
        accept=True,
        count=1,
        body={
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. "
            "Send status unknown; execution status unknown.",
        },
    )
    with pytest.raises(OutcomeUnknownError) as caught:
        adapter.place_order(request)
    assert caught.value.code == -1007
    truth = emulator.orders(venue_api, client_order_id=request.client_order_id)
    assert len(truth) == 1
    found = adapter.get_order(
        venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
    )
    assert found is not None and found.venue_order_id == str(truth[0]["order_id"])

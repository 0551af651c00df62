"""Adapter behaviour that needs no venue: refusals before sending, requests nobody answers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.binance.client import BinanceCoinmAdapter, BinanceSpotAdapter, BinanceUsdmAdapter
from exchanges.bitmex.client import BitmexAdapter, iso
from exchanges.calls import observe_calls
from exchanges.config import VenueConfig
from exchanges.errors import InvalidRequestError
from exchanges.http import HttpSettings
from exchanges.types import AmendOrder, OrderType, PlaceOrder, Side
from monitoring.metrics import VENUE_CALLS
from reliability.errors import RetryableError

FAST = HttpSettings(connect_timeout=1.0, read_timeout=0.3, write_timeout=1.0, pool_timeout=1.0)


def config(venue_api, url):
    return VenueConfig(venue_api=venue_api, base_url=url, api_key="k", api_secret="s", http=FAST)


ORDER = PlaceOrder(
    venue_symbol="BTCUSDT",
    client_order_id="c-1",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    quantity=Decimal("0.01"),
    price=Decimal("65000"),
)


@pytest.mark.parametrize("cls", [BinanceSpotAdapter, BinanceUsdmAdapter, BinanceCoinmAdapter])
def test_a_refused_connection_is_retryable_and_never_sent(cls, refused_url, fake_clock):
    adapter = cls(config(cls.venue_api, refused_url))
    try:
        with observe_calls() as calls, pytest.raises(RetryableError) as caught:
            adapter.place_order(ORDER)
    finally:
        adapter.close()
    assert caught.value.sent is False
    assert calls and all(call.sent is False for call in calls)


def test_bitmex_reports_a_failed_contract_lookup_as_not_sent(refused_url, fake_clock):
    adapter = BitmexAdapter(config("bitmex", refused_url))
    try:
        with pytest.raises(RetryableError) as caught:
            adapter.place_order(ORDER)
    finally:
        adapter.close()
    assert caught.value.sent is False


def test_spot_cancel_replace_needs_the_new_client_id(refused_url):
    adapter = BinanceSpotAdapter(config("binance.spot", refused_url))
    amend = AmendOrder(
        venue_symbol="BTCUSDT",
        client_order_id="c-1",
        venue_order_id="7",
        quantity=Decimal("0.02"),
        price=Decimal("64000"),
        side=Side.BUY,
        order_type=OrderType.LIMIT,
    )
    with observe_calls() as calls, pytest.raises(InvalidRequestError) as caught:
        adapter.amend_order(amend)
    assert caught.value.sent is False
    assert calls == []


def test_orders_need_a_name(refused_url):
    adapter = BinanceUsdmAdapter(config("binance.usdm", refused_url))
    with pytest.raises(InvalidRequestError):
        adapter.get_order(venue_symbol="BTCUSDT")
    bitmex = BitmexAdapter(config("bitmex", refused_url))
    with pytest.raises(InvalidRequestError):
        bitmex.cancel_order(venue_symbol="XBTUSD")


def test_bitmex_amend_must_change_something(refused_url):
    adapter = BitmexAdapter(config("bitmex", refused_url))
    with pytest.raises(InvalidRequestError):
        adapter.amend_order(
            AmendOrder(venue_symbol="XBTUSD", client_order_id="c-1", venue_order_id=None)
        )


def test_bitmex_timestamps_are_iso_milliseconds():
    assert iso(datetime(2024, 11, 25, 10, 30, 0, 123456, tzinfo=UTC)) == "2024-11-25T10:30:00.123Z"


def test_each_exchange_is_counted_once(refused_url, fake_clock, monkeypatch):
    from reliability import detection

    # This hand-built adapter is not the registry's: no outage confirmation pings here.
    monkeypatch.delitem(detection._probers, "binance.usdm", raising=False)
    adapter = BinanceUsdmAdapter(config("binance.usdm", refused_url))
    sample = VENUE_CALLS.labels(venue="binance.usdm", operation="market_data", outcome="retryable")
    before = sample._value.get()
    with observe_calls() as calls, pytest.raises(RetryableError):
        adapter.ping()
    assert len(calls) >= 1
    assert sample._value.get() - before == len(calls)

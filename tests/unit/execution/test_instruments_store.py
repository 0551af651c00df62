"""Instrument sync stores what a venue lists, and deactivates what it stops listing or what expired."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.types import InstrumentInfo, MarketType
from orders.execution.instruments import instruments_store
from orders.models import Instrument

pytestmark = pytest.mark.django_db


def _info(venue_symbol="BTCUSDT", symbol="BTC/USDT:USDT", **extra) -> InstrumentInfo:
    fields = {
        "venue_api": "binance.usdm",
        "venue_symbol": venue_symbol,
        "symbol": symbol,
        "base": symbol.split("/")[0],
        "quote": "USDT",
        "settle": "USDT",
        "market_type": MarketType.LINEAR,
        "expiry": None,
        "tick_size": Decimal("0.1"),
        "step_size": Decimal("0.001"),
        "min_qty": Decimal("0.001"),
        "min_notional": Decimal("100"),
    }
    fields.update(extra)
    return InstrumentInfo(**fields)


def test_it_creates_the_instruments_a_venue_lists():
    report = instruments_store(
        venue_api="binance.usdm", infos=[_info(), _info("ETHUSDT", "ETH/USDT:USDT")]
    )

    assert report.created == ["BTCUSDT", "ETHUSDT"]
    row = Instrument.objects.get(venue_api="binance.usdm", venue_symbol="BTCUSDT")
    assert (row.venue, row.symbol, row.market_type, row.active) == (
        "binance",
        "BTC/USDT:USDT",
        "linear",
        True,
    )
    assert row.tick_size == Decimal("0.1") and row.min_notional == Decimal("100")


def test_it_updates_changed_rules_and_leaves_unchanged_rows_alone():
    instruments_store(venue_api="binance.usdm", infos=[_info(), _info("ETHUSDT", "ETH/USDT:USDT")])

    report = instruments_store(
        venue_api="binance.usdm",
        infos=[_info(tick_size=Decimal("0.5")), _info("ETHUSDT", "ETH/USDT:USDT")],
    )

    assert report.updated == ["BTCUSDT"] and report.created == []
    assert Instrument.objects.get(venue_symbol="BTCUSDT").tick_size == Decimal("0.5")


def test_a_contract_the_venue_stops_listing_is_deactivated_and_comes_back_when_relisted():
    instruments_store(venue_api="binance.usdm", infos=[_info(), _info("ETHUSDT", "ETH/USDT:USDT")])

    report = instruments_store(venue_api="binance.usdm", infos=[_info()])
    assert report.deactivated == ["ETHUSDT"]
    assert not Instrument.objects.get(venue_symbol="ETHUSDT").active

    instruments_store(venue_api="binance.usdm", infos=[_info(), _info("ETHUSDT", "ETH/USDT:USDT")])
    assert Instrument.objects.get(venue_symbol="ETHUSDT").active


def test_an_expired_delivery_contract_is_deactivated_and_the_next_one_appears():
    now = timezone.now()
    old = _info("BTCUSDT_250926", "BTC/USDT:USDT-250926", expiry=now + timedelta(hours=1))
    instruments_store(venue_api="binance.usdm", infos=[_info(), old], now=now)

    later = now + timedelta(hours=2)
    new = _info("BTCUSDT_251226", "BTC/USDT:USDT-251226", expiry=later + timedelta(days=90))
    report = instruments_store(venue_api="binance.usdm", infos=[_info(), old, new], now=later)

    assert report.deactivated == ["BTCUSDT_250926"] and report.created == ["BTCUSDT_251226"]
    assert set(Instrument.objects.filter(active=True).values_list("venue_symbol", flat=True)) == {
        "BTCUSDT",
        "BTCUSDT_251226",
    }


def test_it_only_touches_its_own_venue_api():
    instruments_store(venue_api="binance.usdm", infos=[_info()])
    spot = replace(
        _info("BTCUSDT", "BTC/USDT"),
        venue_api="binance.spot",
        settle=None,
        market_type=MarketType.SPOT,
    )
    instruments_store(venue_api="binance.spot", infos=[spot])

    instruments_store(venue_api="binance.spot", infos=[])

    assert Instrument.objects.get(venue_api="binance.usdm").active
    assert not Instrument.objects.get(venue_api="binance.spot").active

"""Instruments, server time and ping of every venue API against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchanges.binance import mapping as binance_mapping
from exchanges.bitmex import mapping as bitmex_mapping
from exchanges.registry import adapter_for, reset_adapters
from exchanges.types import MarketType

# What each venue API really lists (shared/DESIGN.md §4, EXCHANGES.md §5).
EXPECTED = {
    "binance.spot": {"BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDC"},
    "binance.usdm": {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BTC/USDC:USDC"},
    "binance.coinm": {"BTC/USD:BTC", "ETH/USD:ETH"},
    "bitmex": {"BTC/USD:BTC", "BTC/USDT:USDT", "ETH/USD:BTC", "ETH/USDT:USDT", "SOL/USDT:USDT"},
}
HAS_DELIVERY = {
    "binance.usdm": "BTC/USDT:USDT-",
    "binance.coinm": "BTC/USD:BTC-",
    "bitmex": "BTC/USD:BTC-",
}


@pytest.fixture
def venue(emulator, fake_clock, db):
    reset_adapters()
    yield adapter_for
    reset_adapters()


def venue_symbol(venue_api: str, symbol: str) -> str:
    if venue_api == "bitmex":
        return bitmex_mapping.venue_symbol(symbol)
    return binance_mapping.venue_symbol(venue_api, symbol)


@pytest.mark.parametrize("venue_api", list(EXPECTED))
def test_instruments_parse_into_unified_symbols(venue, venue_api):
    infos = venue(venue_api).instruments()
    symbols = {i.symbol for i in infos}
    assert EXPECTED[venue_api] <= symbols
    for info in infos:
        assert info.venue_api == venue_api
        assert info.tick_size > 0 and info.step_size > 0 and info.min_qty > 0, info
        assert venue_symbol(venue_api, info.symbol) == info.venue_symbol
        if info.market_type is MarketType.SPOT:
            assert info.settle is None and info.expiry is None
        else:
            assert info.settle is not None
    if venue_api in HAS_DELIVERY:
        deliveries = [i for i in infos if i.symbol.startswith(HAS_DELIVERY[venue_api])]
        assert deliveries, f"{venue_api} lists no delivery contract"
        assert all(
            i.expiry and i.expiry > datetime.now(UTC) - timedelta(days=1) for i in deliveries
        )
        assert all(i.symbol.endswith(i.expiry.strftime("%y%m%d")) for i in deliveries)


@pytest.mark.parametrize("venue_api", list(EXPECTED))
def test_server_time_and_ping(venue, venue_api):
    adapter = venue(venue_api)
    assert abs(adapter.server_time() - datetime.now(UTC)) < timedelta(seconds=5)
    assert 0 < adapter.ping() < 5

"""adapter_for: built lazily, cached per process, rebuilt when settings change."""

from __future__ import annotations

import pytest

from exchanges import registry
from exchanges.binance.client import BinanceCoinmAdapter, BinanceSpotAdapter, BinanceUsdmAdapter
from exchanges.bitmex.client import BitmexAdapter


@pytest.fixture(autouse=True)
def _fresh():
    registry.reset_adapters()
    yield
    registry.reset_adapters()


@pytest.mark.parametrize(
    ("venue_api", "cls"),
    [
        ("binance.spot", BinanceSpotAdapter),
        ("binance.usdm", BinanceUsdmAdapter),
        ("binance.coinm", BinanceCoinmAdapter),
        ("bitmex", BitmexAdapter),
    ],
)
def test_it_builds_one_adapter_per_venue_api_and_caches_it(venue_api, cls):
    adapter = registry.adapter_for(venue_api)
    assert isinstance(adapter, cls)
    assert adapter.venue_api == venue_api
    assert registry.adapter_for(venue_api) is adapter


def test_it_builds_nothing_until_asked():
    assert registry._adapters == {}


def test_it_rebuilds_when_the_settings_change(settings):
    first = registry.adapter_for("binance.usdm")
    settings.BINANCE_USDM_BASE_URL = "http://127.0.0.1:1"
    second = registry.adapter_for("binance.usdm")
    assert second is not first
    assert second._config.base_url == "http://127.0.0.1:1"
    settings.BINANCE_API_SECRET = "another-secret"
    assert registry.adapter_for("binance.usdm") is not second


def test_it_reads_timeouts_and_keys_from_settings(settings):
    settings.VENUE_HTTP_READ_TIMEOUT = 1.5
    settings.BITMEX_API_KEY = "key-visible-only-to-the-adapter"
    settings.BITMEX_API_SECRET = "s3cr3t-value"
    settings.BITMEX_API_EXPIRES_SECONDS = 7
    config = registry.config_for("bitmex")
    assert config.http.read_timeout == 1.5
    assert config.api_key == "key-visible-only-to-the-adapter"
    assert config.expires_seconds == 7
    assert "s3cr3t-value" not in repr(config)
    assert "key-visible-only-to-the-adapter" not in repr(config)


def test_it_refuses_an_unknown_venue_api():
    with pytest.raises(ValueError):
        registry.adapter_for("kraken")

"""adapter_for(venue_api): the process's adapter for a venue API, built on first use.

Nothing is built at import time. Each process (gunicorn worker, Celery prefork child) builds its
own adapters and httpx pools: a pool created before a fork is never used after it. An adapter is
rebuilt when the settings it was built from change (tests point base URLs at an emulator with
override_settings), and the old one is closed. Keys and secrets live only in the settings and
the adapter's VenueConfig, whose repr hides them.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from exchanges.base import VenueAdapter
from exchanges.binance.client import ADAPTERS as BINANCE_ADAPTERS
from exchanges.bitmex.client import BitmexAdapter
from exchanges.config import VenueConfig
from exchanges.http import HttpSettings
from exchanges.types import VENUE_APIS

_BASE_URL_SETTING = {
    "binance.spot": "BINANCE_SPOT_BASE_URL",
    "binance.usdm": "BINANCE_USDM_BASE_URL",
    "binance.coinm": "BINANCE_COINM_BASE_URL",
    "bitmex": "BITMEX_BASE_URL",
}

_lock = threading.Lock()
_adapters: dict[str, tuple[int, VenueConfig, VenueAdapter]] = {}


def http_settings() -> HttpSettings:
    return HttpSettings(
        connect_timeout=settings.VENUE_HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.VENUE_HTTP_READ_TIMEOUT,
        write_timeout=settings.VENUE_HTTP_WRITE_TIMEOUT,
        pool_timeout=settings.VENUE_HTTP_POOL_TIMEOUT,
        max_connections=settings.VENUE_HTTP_MAX_CONNECTIONS,
        max_keepalive=settings.VENUE_HTTP_MAX_KEEPALIVE,
        keepalive_expiry=settings.VENUE_HTTP_KEEPALIVE_EXPIRY,
    )


def config_for(venue_api: str) -> VenueConfig:
    """The venue API's configuration as the settings say right now."""
    if venue_api not in VENUE_APIS:
        raise ValueError(f"unknown venue API {venue_api!r}; one of {', '.join(VENUE_APIS)}")
    venue = "bitmex" if venue_api == "bitmex" else "binance"
    return VenueConfig(
        venue_api=venue_api,
        base_url=getattr(settings, _BASE_URL_SETTING[venue_api]),
        api_key=getattr(settings, f"{venue.upper()}_API_KEY"),
        api_secret=getattr(settings, f"{venue.upper()}_API_SECRET"),
        http=http_settings(),
        recv_window_ms=settings.BINANCE_RECV_WINDOW_MS,
        time_sync_seconds=settings.BINANCE_TIME_SYNC_SECONDS,
        expires_seconds=settings.BITMEX_API_EXPIRES_SECONDS,
    )


def build_adapter(config: VenueConfig) -> VenueAdapter:
    if config.venue_api == "bitmex":
        return BitmexAdapter(config)
    return BINANCE_ADAPTERS[config.venue_api](config)


def adapter_for(venue_api: str) -> VenueAdapter:
    """The cached adapter of this process, (re)built when missing, forked or reconfigured."""
    config = config_for(venue_api)
    pid = os.getpid()
    with _lock:
        cached = _adapters.get(venue_api)
        if cached is not None and cached[0] == pid and cached[1] == config:
            return cached[2]
        if cached is not None and cached[0] == pid:
            cached[2].close()
        adapter = build_adapter(config)
        _adapters[venue_api] = (pid, config, adapter)
        return adapter


def reset_adapters() -> None:
    """Close and forget every adapter of this process (tests, worker shutdown)."""
    with _lock:
        for pid, _config, adapter in _adapters.values():
            if pid == os.getpid():
                adapter.close()
        _adapters.clear()

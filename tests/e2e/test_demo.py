"""`manage.py demo` end to end: the web (live_server), a real Celery worker and the exchange
emulator, the tour talking to them over HTTP only. Breakers recover in 3 s here (30 s by default)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from reliability.conf import BreakerConfig
from tests.fixtures.execution import EXECUTION_TEST_ENV

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FAST_BREAKERS = {"BREAKER_RECOVERY_SECONDS": "3", "BREAKER_FAILURE_COUNT": "3"}


@pytest.fixture
def worker_env_extra():
    return {**EXECUTION_TEST_ENV, **FAST_BREAKERS}


@pytest.fixture
def fast_breakers(settings, fresh_reliability):
    """The web process (live_server runs in this one) judges breakers like the worker does."""
    settings.RELIABILITY_BREAKERS = {
        api: BreakerConfig(recovery_seconds=3.0, failure_count=3) for api in settings.VENUE_APIS
    }


def test_the_tour_shows_markets_outage_breaker_failover_and_recovery(
    emulator, venue_instruments, worker, live_server, make_key, fast_breakers
):
    # (emulator before worker: the worker starts with the emulator's ports and keys)
    _key, raw = make_key(account="demo")
    out = io.StringIO()
    call_command(
        "demo",
        url=live_server.url,
        api_key=raw,
        binance_url=emulator.binance_url,
        bitmex_url=emulator.bitmex_url,
        outage_seconds=15,
        wait_seconds=45,
        stdout=out,
    )
    text = out.getvalue()
    for market in ("spot     binance.spot", "linear   binance.usdm", "inverse  binance.coinm"):
        assert market in text
    assert "bitmex BTC/USD:BTC FILLED" in text
    assert "cancel requested -> CANCELED" in text
    assert "503 venue_unavailable" in text
    assert "failover from binance.usdm to bitmex" in text
    assert "binance.usdm breaker closed" in text and "Tour complete" in text
    # the venues' ground truth agrees: the failover order rests on BitMEX, and Binance took
    # the orders accepted during the outage once it was back
    failover_line = next(line for line in text.splitlines() if "bitmex BTC/USDT:USDT NEW" in line)
    assert failover_line
    assert [o for o in emulator.orders("bitmex") if o["symbol"] == "XBTUSDT" and o["open"]]
    assert len(emulator.orders("binance.usdm", open=True)) >= 2

"""The per-process instrument cache (orders/instrument_cache.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import instrument_cache
from orders.models import Instrument

pytestmark = pytest.mark.django_db

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(instrument_cache, "clock", lambda: now[0])
    return now


def reads(venue: str = "binance", symbol: str = SYMBOL) -> tuple[Instrument | None, int]:
    with CaptureQueriesContext(connection) as captured:
        found = instrument_cache.active_instrument(venue, symbol)
    return found, len(captured.captured_queries)


def test_it_reads_an_instrument_once_per_lifetime(instruments, clock, settings):
    settings.INSTRUMENT_CACHE_SECONDS = 5
    first, queries = reads()
    assert first.venue_api == "binance.usdm" and queries == 1

    clock[0] += 4.9
    again, queries = reads()
    assert again is first and queries == 0

    clock[0] += 0.2  # past its lifetime: read again
    later, queries = reads()
    assert later == first and later is not first and queries == 1


def test_a_bulk_change_elsewhere_is_seen_once_the_lifetime_ends(instruments, clock, settings):
    settings.INSTRUMENT_CACHE_SECONDS = 5
    reads()
    Instrument.objects.filter(venue="binance", symbol=SYMBOL).update(tick_size=Decimal("1"))

    assert reads()[0].tick_size == Decimal("0.1")  # the cached rules, for up to 5 s
    clock[0] += 5.1
    assert reads()[0].tick_size == Decimal("1")


def test_saving_an_instrument_in_this_process_drops_the_cache(instruments, clock, settings):
    settings.INSTRUMENT_CACHE_SECONDS = 5
    cached, _ = reads()
    row = Instrument.objects.get(pk=cached.pk)
    row.active = False
    row.save()

    found, queries = reads()
    assert queries == 1
    assert found is None or found.pk != cached.pk


def test_unknown_symbols_are_not_kept_and_zero_turns_the_cache_off(instruments, settings):
    assert reads(symbol="NOPE/USDT")[0] is None
    assert instrument_cache._entries == {}

    settings.INSTRUMENT_CACHE_SECONDS = 0
    assert reads()[1] == 1 and reads()[1] == 1

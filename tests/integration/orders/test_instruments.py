"""GET /api/v1/instruments and the instrument sync service."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.types import InstrumentInfo, MarketType
from orders.models import Instrument
from orders.services_instruments import instrument_sync, instrument_upsert

pytestmark = pytest.mark.django_db


def listing(api, query="") -> list[dict]:
    response = api.get(f"/api/v1/instruments{query}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_it_lists_every_market_type_for_btc_eth_sol(api, instruments):
    rows = listing(api, "?limit=500")
    assert len(rows) == len(instruments)
    assert {r["market_type"] for r in rows} == {"spot", "linear", "inverse"}
    assert {r["base"] for r in rows} == {"BTC", "ETH", "SOL"}
    xbt = next(r for r in rows if r["venue_symbol"] == "XBTUSD")
    assert (
        xbt["symbol"] == "BTC/USD:BTC" and xbt["tick_size"] == "0.5" and xbt["step_size"] == "100"
    )
    assert xbt["settle"] == "BTC" and xbt["exchange"] == "bitmex"


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("?exchange=bitmex", lambda r: r["exchange"] == "bitmex"),
        ("?venue=binance", lambda r: r["exchange"] == "binance"),
        ("?venue_api=binance.coinm", lambda r: r["venue_api"] == "binance.coinm"),
        ("?base=eth", lambda r: r["base"] == "ETH"),
        ("?market_type=inverse", lambda r: r["market_type"] == "inverse"),
        ("?symbol=BTC/USDT:USDT", lambda r: r["symbol"] == "BTC/USDT:USDT"),
    ],
)
def test_filters(api, instruments, query, check):
    rows = listing(api, query)
    assert rows and all(check(r) for r in rows)
    assert len(rows) < len(instruments)


def test_pagination_and_inactive_rows(api, instruments):
    Instrument.objects.filter(venue_symbol="SOLUSDT").update(active=False)
    first = api.get("/api/v1/instruments?limit=5").json()
    second = api.get(first["next"]).json()
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])
    assert all(r["active"] for r in listing(api, "?limit=500"))
    assert any(not r["active"] for r in listing(api, "?limit=500&active=false"))


def test_bad_filters_are_400(api, instruments):
    assert api.get("/api/v1/instruments?market_type=option").status_code == 400
    assert api.get("/api/v1/instruments?cursor=zzz").status_code == 400


def _info(**kw) -> InstrumentInfo:
    values = dict(
        venue_api="binance.usdm",
        venue_symbol="BTCUSDT_270326",
        symbol="BTC/USDT:USDT-270326",
        base="BTC",
        quote="USDT",
        settle="USDT",
        market_type=MarketType.LINEAR,
        expiry=datetime(2027, 3, 26, 8, tzinfo=UTC),
        tick_size=Decimal("0.1"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal("5"),
    )
    return InstrumentInfo(**{**values, **kw})


def test_sync_copies_instrument_info_and_retires_missing_contracts(instruments):
    row = instrument_upsert(info=_info())
    assert (row.venue, row.market_type, row.tick_size) == ("binance", "linear", Decimal("0.1"))
    again = instrument_upsert(info=_info(tick_size=Decimal("0.5")))
    assert again.pk == row.pk and again.tick_size == Decimal("0.5")
    kept = instrument_sync(venue_api="binance.usdm", infos=[_info()])
    assert [k.pk for k in kept] == [row.pk]
    active = set(
        Instrument.objects.filter(venue_api="binance.usdm", active=True).values_list(
            "venue_symbol", flat=True
        )
    )
    assert active == {"BTCUSDT_270326"}

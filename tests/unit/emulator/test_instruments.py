"""Instrument listings and delivery dates, computed from the date as the venues do."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from exchanges.emulator.instruments import (
    binance_instruments,
    bitmex_instruments,
    last_friday,
    quarter_expiries,
)


def test_it_finds_the_last_friday_of_a_month():
    assert last_friday(2026, 12) == 25
    assert last_friday(2027, 3) == 26
    assert last_friday(2025, 6) == 27  # BTCUSDT_250627 in the docs


def test_it_lists_the_current_and_next_quarter_until_the_delivery_hour():
    before = quarter_expiries(datetime(2026, 12, 25, 7, 59, tzinfo=UTC), hour=8)
    assert before == [datetime(2026, 12, 25, 8, tzinfo=UTC), datetime(2027, 3, 26, 8, tzinfo=UTC)]
    at = quarter_expiries(datetime(2026, 12, 25, 8, 0, tzinfo=UTC), hour=8)
    assert at[0] == datetime(2027, 3, 26, 8, tzinfo=UTC)


def test_it_names_binance_delivery_contracts_by_date():
    listed = binance_instruments(datetime(2025, 6, 1, tzinfo=UTC))
    symbols = {i.symbol: i for i in listed if i.venue_api != "binance.spot"}
    assert symbols["BTCUSDT_250627"].contract_type == "CURRENT_QUARTER"
    assert symbols["BTCUSDT_250926"].contract_type == "NEXT_QUARTER"
    assert symbols["BTCUSD_250627"].contract_size == Decimal(100)
    assert "SOLUSD_PERP" in symbols and "SOLUSDT_250627" not in symbols
    spot = [i for i in listed if i.venue_api == "binance.spot"]
    assert {i.symbol for i in spot} == {
        f"{b}{q}" for b in ("BTC", "ETH", "SOL") for q in ("USDT", "USDC")
    }


def test_it_names_bitmex_futures_with_month_codes():
    symbols = {i.symbol for i in bitmex_instruments(datetime(2025, 11, 1, tzinfo=UTC))}
    assert {"XBTZ25", "XBTH26", "ETHZ25", "ETHH26"} <= symbols
    assert {"XBTUSD", "ETHUSD", "SOLUSD", "XBTUSDT", "ETHUSDT", "SOLUSDT"} <= symbols

from __future__ import annotations

import pytest

from tests.integration.emulator.doc_clients import BinanceClient, BitmexClient


@pytest.fixture
def binance(emulator):
    client = BinanceClient(
        emulator.binance_url, emulator.binance_api_key, emulator.binance_api_secret
    )
    yield client
    client.close()


@pytest.fixture
def bitmex(emulator):
    client = BitmexClient(emulator.bitmex_url, emulator.bitmex_api_key, emulator.bitmex_api_secret)
    yield client
    client.close()

"""The official Binance signature vectors, sent over HTTP to an emulator that holds the docs'
key pairs: the signature is accepted (the answer is the stale-timestamp error -1021, not the
bad-signature error -1022), and a one-character change is refused."""

from __future__ import annotations

import httpx
import pytest

from exchanges.emulator.server import Emulator, EmulatorConfig
from tests.unit.emulator.test_signing import BINANCE_VECTORS, SPOT_SECRET, USDM_SECRET

SPOT_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
USDM_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"


@pytest.fixture(scope="module")
def docs_emulator():
    server = Emulator(
        EmulatorConfig(
            binance_port=0,
            bitmex_port=0,
            binance_credentials={SPOT_KEY: SPOT_SECRET, USDM_KEY: USDM_SECRET},
        )
    ).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("secret", "payload", "signature"), BINANCE_VECTORS)
def test_it_accepts_the_documented_signatures(docs_emulator, secret, payload, signature):
    key = SPOT_KEY if secret == SPOT_SECRET else USDM_KEY
    path = "/fapi/v1/order" if "BTCUSDT" in payload else "/api/v3/order"
    url = f"{docs_emulator.binance_url}{path}?{payload}&signature={signature}"
    accepted = httpx.post(url, headers={"X-MBX-APIKEY": key})
    assert accepted.json()["code"] == -1021, accepted.text  # signature fine, timestamp old
    tampered = httpx.post(
        url[:-1] + ("0" if url[-1] != "0" else "1"), headers={"X-MBX-APIKEY": key}
    )
    assert tampered.json() == {"code": -1022, "msg": "Signature for this request is not valid."}

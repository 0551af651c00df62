"""The official signature vectors (EXCHANGES.md §2.1, §4.1) verify through the emulator's
own signature checks."""

from __future__ import annotations

import pytest

from exchanges.emulator.binance import signing as binance
from exchanges.emulator.bitmex import signing as bitmex

SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
USDM_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
BITMEX_SECRET = "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO"

BINANCE_VECTORS = [
    (
        SPOT_SECRET,
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
        "&timestamp=1499827319559",
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
    ),
    (
        SPOT_SECRET,
        "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
        "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
    ),
    (
        SPOT_SECRET,
        "timestamp=1578963600000",
        "d84e6641b1e328e7b418fff030caed655c266299c9355e36ce801ed14631eed4",
    ),
    (
        USDM_SECRET,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
        "&timestamp=1591702613943",
        "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9",
    ),
]

BITMEX_VECTORS = [
    (
        "GET",
        "/api/v1/instrument",
        "1518064236",
        "",
        "c7682d435d0cfe87c16098df34ef2eb5a549d4c5a3c2b1f0f77b8af73423bf00",
    ),
    (
        "GET",
        "/api/v1/instrument?filter=%7B%22symbol%22%3A+%22XBTM15%22%7D",
        "1518064237",
        "",
        "e2f422547eecb5b3cb29ade2127e21b858b235b386bfa45e1c1756eb3383919f",
    ),
    (
        "POST",
        "/api/v1/order",
        "1518064238",
        '{"symbol":"XBTM15","price":219.0,"clOrdID":"mm_bitmex_1a/oemUeQ4CAJZgP3fjHsA","orderQty":98}',
        "1749cd2ccae4aa49048ae09f0b95110cee706e0944e6a14ad0b3a8cb45bd336b",
    ),
]


@pytest.mark.parametrize(("secret", "payload", "signature"), BINANCE_VECTORS)
def test_it_verifies_binance_vectors_in_the_query_string(secret, payload, signature):
    assert binance.verify(f"{payload}&signature={signature}", "", secret)
    assert binance.verify(f"{payload}&signature={signature.upper()}", "", secret)


@pytest.mark.parametrize(("secret", "payload", "signature"), BINANCE_VECTORS)
def test_it_verifies_binance_vectors_in_the_body(secret, payload, signature):
    assert binance.verify("", f"{payload}&signature={signature}", secret)


def test_it_signs_query_plus_body_without_a_separator():
    query, body = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        ("quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"),
    )
    signature = binance.sign(query + body, SPOT_SECRET)
    assert binance.verify(query, f"{body}&signature={signature}", SPOT_SECRET)
    assert not binance.verify(query, f"{body}&signature={'0' * 64}", SPOT_SECRET)


@pytest.mark.parametrize(("secret", "payload", "signature"), BINANCE_VECTORS)
def test_it_refuses_a_tampered_binance_payload(secret, payload, signature):
    assert not binance.verify(
        payload.replace("timestamp=1", "timestamp=2") + f"&signature={signature}", "", secret
    )
    assert not binance.verify(payload, "", secret)  # no signature at all


@pytest.mark.parametrize(("verb", "path", "expires", "data", "signature"), BITMEX_VECTORS)
def test_it_verifies_bitmex_vectors(verb, path, expires, data, signature):
    assert bitmex.sign(BITMEX_SECRET, verb, path, expires, data) == signature
    assert bitmex.verify(BITMEX_SECRET, verb, path, expires, data, signature)
    assert not bitmex.verify(BITMEX_SECRET, verb, path, expires, data + " ", signature)

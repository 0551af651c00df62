"""The official signature vectors (shared/specs/EXCHANGES.md §2.1, §4.1)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.binance import signing as binance
from exchanges.bitmex import signing as bitmex

SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
USDM_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
BITMEX_SECRET = "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO"


@pytest.mark.parametrize(
    ("secret", "payload", "signature"),
    [
        (  # spot rest-api.md, ASCII
            SPOT_SECRET,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
            "&recvWindow=5000&timestamp=1499827319559",
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
        ),
        (  # spot rest-api.md, non-ASCII symbol (percent-encoded before signing)
            SPOT_SECRET,
            "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
            "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
            "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
        ),
        (  # binance-signature-examples README
            SPOT_SECRET,
            "timestamp=1578963600000",
            "d84e6641b1e328e7b418fff030caed655c266299c9355e36ce801ed14631eed4",
        ),
        (  # USDⓈ-M authentication example 1
            USDM_SECRET,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
            "&recvWindow=5000&timestamp=1591702613943",
            "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9",
        ),
    ],
)
def test_it_reproduces_the_binance_vectors(secret, payload, signature):
    assert binance.sign(secret, payload) == signature


def test_it_percent_encodes_non_ascii_exactly_as_the_spot_example():
    params = {
        "symbol": "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits 1-6
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": Decimal("1"),
        "price": Decimal("0.10"),
        "recvWindow": 5000,
        "timestamp": 1499827319559,
    }
    query = binance.encode_params(params)
    assert query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert binance.sign(SPOT_SECRET, query) == (
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )


def test_it_builds_the_usdm_example_from_parameters():
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": Decimal("1.000"),
        "price": Decimal("9000"),
        "timeInForce": "GTC",
        "recvWindow": 5000,
        "timestamp": 1591702613943,
    }
    query, body = binance.signed_payload(USDM_SECRET, query=binance.encode_params(params))
    assert body == ""
    assert query.endswith(
        "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    )


def test_it_signs_query_plus_body_and_puts_the_signature_last_in_the_body():
    query, body = binance.signed_payload(SPOT_SECRET, query="a=1", body="b=2")
    assert query == "a=1"
    assert body == f"b=2&signature={binance.sign(SPOT_SECRET, 'a=1b=2')}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.010"), "0.01"),
        (Decimal("1E+2"), "100"),
        (Decimal("65000.50"), "65000.5"),
        (Decimal("0"), "0"),
        (True, "true"),
        (5000, "5000"),
    ],
)
def test_it_formats_values_without_exponents_or_floats(value, text):
    assert binance.format_value(value) == text


def test_it_drops_none_parameters():
    assert binance.encode_params({"a": 1, "b": None, "c": "x y"}) == "a=1&c=x%20y"


@pytest.mark.parametrize(
    ("verb", "path", "expires", "data", "signature"),
    [
        (
            "GET",
            "/api/v1/instrument",
            1518064236,
            "",
            "c7682d435d0cfe87c16098df34ef2eb5a549d4c5a3c2b1f0f77b8af73423bf00",
        ),
        (
            "GET",
            "/api/v1/instrument?filter=%7B%22symbol%22%3A+%22XBTM15%22%7D",
            1518064237,
            "",
            "e2f422547eecb5b3cb29ade2127e21b858b235b386bfa45e1c1756eb3383919f",
        ),
        (
            "POST",
            "/api/v1/order",
            1518064238,
            '{"symbol":"XBTM15","price":219.0,"clOrdID":"mm_bitmex_1a/oemUeQ4CAJZgP3fjHsA",'
            '"orderQty":98}',
            "1749cd2ccae4aa49048ae09f0b95110cee706e0944e6a14ad0b3a8cb45bd336b",
        ),
    ],
)
def test_it_reproduces_the_bitmex_vectors(verb, path, expires, data, signature):
    assert bitmex.sign(BITMEX_SECRET, verb, path, expires, data) == signature
    headers = bitmex.auth_headers(
        "LAqUlngMIQkIUjXMUreyu3qn", BITMEX_SECRET, verb=verb, path=path, expires=expires, data=data
    )
    assert headers == {
        "api-key": "LAqUlngMIQkIUjXMUreyu3qn",
        "api-expires": str(expires),
        "api-signature": signature,
    }


def test_it_writes_decimals_as_exact_json_numbers():
    body = bitmex.dumps(
        {"symbol": "XBTUSD", "price": Decimal("65000.50"), "orderQty": 100, "text": None}
    )
    assert body == '{"symbol":"XBTUSD","price":65000.5,"orderQty":100}'
    assert bitmex.dumps({"price": Decimal("0.1") + Decimal("0.2")}) == '{"price":0.3}'

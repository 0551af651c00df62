"""Binance <-> unified mapping: symbols, statuses, order params, orders, fills, instruments."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.binance import mapping
from exchanges.errors import InvalidRequestError
from exchanges.types import (
    MarketType,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
    VenueStatus,
)

SPOT, USDM, COINM = mapping.SPOT, mapping.USDM, mapping.COINM


def _filters(tick, step, min_qty, notional=None, kind="NOTIONAL"):
    filters = [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "9000", "stepSize": step},
    ]
    if notional is not None:
        key = "notional" if kind == "MIN_NOTIONAL" else "minNotional"
        filters.append({"filterType": kind, key: notional})
    return filters


SPOT_INFO = {
    "symbols": [
        {
            "symbol": base + quote,
            "status": "TRADING",
            "baseAsset": base,
            "quoteAsset": quote,
            "filters": _filters("0.01", "0.00001", "0.00001", "5.00000000"),
        }
        for base in ("BTC", "ETH", "SOL")
        for quote in ("USDT", "USDC")
    ]
    + [
        {
            "symbol": "LTCBTC",
            "status": "BREAK",
            "baseAsset": "LTC",
            "quoteAsset": "BTC",
            "filters": _filters("0.000001", "0.001", "0.001", "0.0001", kind="MIN_NOTIONAL"),
        }
    ]
}

DELIVERY_MS = 1766736000000  # 2025-12-26 08:00 UTC


def _usdm(symbol, base, margin, contract_type, delivery=4133404800000):
    return {
        "symbol": symbol,
        "pair": f"{base}{margin}",
        "contractType": contract_type,
        "deliveryDate": delivery,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": margin,
        "marginAsset": margin,
        "filters": _filters("0.10", "0.001", "0.001", "100", kind="MIN_NOTIONAL"),
    }


USDM_INFO = {
    "symbols": [
        _usdm("BTCUSDT", "BTC", "USDT", "PERPETUAL"),
        _usdm("BTCUSDC", "BTC", "USDC", "PERPETUAL"),
        _usdm("BTCUSDT_251226", "BTC", "USDT", "CURRENT_QUARTER", DELIVERY_MS),
        _usdm("ETHUSDT", "ETH", "USDT", "PERPETUAL"),
        _usdm("SOLUSDT", "SOL", "USDT", "PERPETUAL"),
        {**_usdm("BTCDOMUSDT", "BTCDOM", "USDT", "PERPETUAL"), "status": "SETTLING"},
        {**_usdm("XUSDT", "X", "USDT", "TRADIFI_PERPETUAL")},
    ]
}

COINM_INFO = {
    "symbols": [
        {
            "symbol": symbol,
            "pair": "BTCUSD",
            "contractType": kind,
            "deliveryDate": delivery,
            "contractStatus": "TRADING",
            "contractSize": 100,
            "quoteAsset": "USD",
            "baseAsset": "BTC",
            "marginAsset": "BTC",
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "maxPrice": "100000",
                    "minPrice": "0.1",
                    "tickSize": "0.1",
                },
                {"filterType": "LOT_SIZE", "maxQty": "100000", "minQty": "1", "stepSize": "1"},
            ],
        }
        for symbol, kind, delivery in (
            ("BTCUSD_PERP", "PERPETUAL", 4133404800000),
            ("BTCUSD_251226", "CURRENT_QUARTER", DELIVERY_MS),
        )
    ]
}


def test_it_parses_spot_instruments():
    infos = {i.symbol: i for i in mapping.parse_instruments(SPOT, SPOT_INFO)}
    btc = infos["BTC/USDT"]
    assert btc.venue_symbol == "BTCUSDT"
    assert (btc.base, btc.quote, btc.settle) == ("BTC", "USDT", None)
    assert btc.market_type is MarketType.SPOT
    assert btc.tick_size == Decimal("0.01")
    assert btc.step_size == Decimal("0.00001")
    assert btc.min_notional == Decimal("5")
    assert btc.max_qty == Decimal("9000")
    assert btc.active is True
    assert "ETH/USDC" in infos and "SOL/USDT" in infos
    ltc = infos["LTC/BTC"]
    assert ltc.active is False
    assert ltc.min_notional == Decimal("0.0001")  # legacy MIN_NOTIONAL.minNotional


def test_it_parses_usdm_perpetuals_and_deliveries_with_ccxt_symbols():
    infos = {i.symbol: i for i in mapping.parse_instruments(USDM, USDM_INFO)}
    assert {
        "BTC/USDT:USDT",
        "BTC/USDC:USDC",
        "BTC/USDT:USDT-251226",
        "ETH/USDT:USDT",
        "SOL/USDT:USDT",
    } <= set(infos)
    perp = infos["BTC/USDT:USDT"]
    assert perp.market_type is MarketType.LINEAR
    assert perp.settle == "USDT"
    assert perp.expiry is None
    assert perp.min_notional == Decimal("100")  # MIN_NOTIONAL.notional on futures
    quarterly = infos["BTC/USDT:USDT-251226"]
    assert quarterly.venue_symbol == "BTCUSDT_251226"
    assert quarterly.expiry == datetime(2025, 12, 26, 8, tzinfo=UTC)
    assert infos["BTCDOM/USDT:USDT"].active is False
    assert all(i.venue_symbol != "XUSDT" for i in infos.values())


def test_it_parses_coinm_with_contract_size():
    infos = {i.symbol: i for i in mapping.parse_instruments(COINM, COINM_INFO)}
    perp, quarterly = infos["BTC/USD:BTC"], infos["BTC/USD:BTC-251226"]
    assert perp.venue_symbol == "BTCUSD_PERP"
    assert perp.market_type is MarketType.INVERSE
    assert perp.contract_size == Decimal(100)
    assert perp.min_notional == 0
    assert quarterly.venue_symbol == "BTCUSD_251226"
    assert quarterly.active is True


@pytest.mark.parametrize(
    ("venue_api", "info"), [(SPOT, SPOT_INFO), (USDM, USDM_INFO), (COINM, COINM_INFO)]
)
def test_unified_symbols_round_trip_to_venue_symbols(venue_api, info):
    for instrument in mapping.parse_instruments(venue_api, info):
        assert mapping.venue_symbol(venue_api, instrument.symbol) == instrument.venue_symbol


@pytest.mark.parametrize(
    ("venue_api", "symbol", "expected"),
    [
        (SPOT, "ETH/USDC", "ETHUSDC"),
        (USDM, "SOL/USDT:USDT", "SOLUSDT"),
        (USDM, "ETH/USDT:USDT-260327", "ETHUSDT_260327"),
        (COINM, "SOL/USD:SOL", "SOLUSD_PERP"),
        (COINM, "ETH/USD:ETH-260327", "ETHUSD_260327"),
    ],
)
def test_it_maps_unified_symbols_to_binance(venue_api, symbol, expected):
    assert mapping.venue_symbol(venue_api, symbol) == expected


@pytest.mark.parametrize(
    ("venue_api", "symbol"),
    [
        (SPOT, "BTC/USDT:USDT"),
        (USDM, "BTC/USDT"),
        ("binance.options", "BTC/USDT:USDT"),
        (SPOT, "BTCUSDT"),
    ],
)
def test_it_refuses_symbols_the_venue_api_does_not_list(venue_api, symbol):
    with pytest.raises(ValueError):
        mapping.venue_symbol(venue_api, symbol)


def place(**overrides):
    fields = dict(
        venue_symbol="BTCUSDT",
        client_order_id="c-1",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.010"),
        price=Decimal("65000.50"),
    )
    fields.update(overrides)
    return PlaceOrder(**fields)


def test_it_builds_a_limit_order():
    assert mapping.order_params(SPOT, place()) == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": Decimal("0.010"),
        "price": Decimal("65000.50"),
        "newClientOrderId": "c-1",
        "newOrderRespType": "RESULT",
    }


def test_it_makes_post_only_a_limit_maker_on_spot_and_gtx_on_futures():
    spot = mapping.order_params(SPOT, place(time_in_force=TimeInForce.POST_ONLY))
    assert spot["type"] == "LIMIT_MAKER" and "timeInForce" not in spot
    futures = mapping.order_params(USDM, place(time_in_force=TimeInForce.POST_ONLY))
    assert (futures["type"], futures["timeInForce"]) == ("LIMIT", "GTX")


def test_it_builds_market_and_reduce_only_orders():
    params = mapping.order_params(
        COINM, place(order_type=OrderType.MARKET, price=None, reduce_only=True, side=Side.SELL)
    )
    assert params["type"] == "MARKET" and params["side"] == "SELL"
    assert "price" not in params and "timeInForce" not in params
    assert params["reduceOnly"] == "true"


@pytest.mark.parametrize(
    ("venue_api", "overrides"),
    [
        (SPOT, {"reduce_only": True}),
        (USDM, {"price": None}),
        (
            USDM,
            {"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.POST_ONLY},
        ),
    ],
)
def test_it_refuses_orders_it_cannot_express(venue_api, overrides):
    with pytest.raises(InvalidRequestError) as caught:
        mapping.order_params(venue_api, place(**overrides))
    assert caught.value.sent is False


SPOT_ORDER = {
    "symbol": "LTCBTC",
    "orderId": 1,
    "orderListId": -1,
    "clientOrderId": "myOrder1",
    "price": "0.1",
    "origQty": "1.0",
    "executedQty": "0.5",
    "cummulativeQuoteQty": "0.05",
    "status": "PARTIALLY_FILLED",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "side": "BUY",
    "stopPrice": "0.0",
    "icebergQty": "0.0",
    "time": 1499827319559,
    "updateTime": 1499827319560,
    "isWorking": True,
}


def test_it_reads_a_spot_order():
    order = mapping.parse_order(SPOT, SPOT_ORDER)
    assert order.venue_order_id == "1"
    assert order.client_order_id == "myOrder1"
    assert order.status is VenueStatus.PARTIALLY_FILLED
    assert order.side is Side.BUY and order.order_type is OrderType.LIMIT
    assert order.quantity == Decimal("1.0")
    assert order.filled_quantity == Decimal("0.5")
    assert order.price == Decimal("0.1")
    assert order.average_price == Decimal("0.1")  # cummulativeQuoteQty / executedQty
    assert order.created_at == datetime(2017, 7, 12, 2, 41, 59, 559000, tzinfo=UTC)
    assert order.raw is SPOT_ORDER


def test_it_reads_the_original_client_id_from_a_spot_cancel():
    cancel = {
        **SPOT_ORDER,
        "status": "CANCELED",
        "origClientOrderId": "myOrder1",
        "clientOrderId": "cancelMyOrder1",
    }
    order = mapping.parse_order(SPOT, cancel, client_id_field="origClientOrderId")
    assert order.client_order_id == "myOrder1"
    assert order.status is VenueStatus.CANCELED


def test_it_reads_a_keep_priority_amended_order():
    amended = {
        "symbol": "BTCUSDT",
        "orderId": 33,
        "orderListId": -1,
        "origClientOrderId": "5xrgbMyg6z36NzBn2pbT8H",
        "clientOrderId": "5xrgbMyg6z36NzBn2pbT8H",
        "price": "6.00000000",
        "qty": "5.00000000",
        "executedQty": "0.00000000",
        "cumulativeQuoteQty": "0.00000000",
        "status": "NEW",
        "timeInForce": "GTC",
        "type": "LIMIT",
        "side": "SELL",
        "workingTime": 1741926410242,
    }
    order = mapping.parse_order(SPOT, amended)
    assert order.quantity == Decimal("5")
    assert order.average_price is None
    assert order.side is Side.SELL


def test_it_reads_a_futures_order_with_avg_price():
    data = {
        "avgPrice": "30005.5",
        "clientOrderId": "abc",
        "cumBase": "0",
        "executedQty": "1",
        "orderId": 20072994037,
        "origQty": "1",
        "price": "0",
        "side": "SELL",
        "status": "FILLED",
        "symbol": "BTCUSD_PERP",
        "type": "MARKET",
        "updateTime": 1629182711600,
    }
    order = mapping.parse_order(COINM, data)
    assert order.price is None
    assert order.average_price == Decimal("30005.5")
    assert order.order_type is OrderType.MARKET
    assert order.status is VenueStatus.FILLED
    assert order.created_at is None  # modify/new responses carry only updateTime


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("NEW", VenueStatus.NEW),
        ("PENDING_NEW", VenueStatus.NEW),
        ("PARTIALLY_FILLED", VenueStatus.PARTIALLY_FILLED),
        ("FILLED", VenueStatus.FILLED),
        ("CANCELED", VenueStatus.CANCELED),
        ("REJECTED", VenueStatus.REJECTED),
        ("EXPIRED", VenueStatus.EXPIRED),
        ("EXPIRED_IN_MATCH", VenueStatus.EXPIRED),
    ],
)
def test_it_maps_every_documented_status(status, expected):
    assert mapping.parse_order(SPOT, {**SPOT_ORDER, "status": status}).status is expected


def test_it_refuses_an_unknown_status():
    with pytest.raises(ValueError):
        mapping.parse_order(SPOT, {**SPOT_ORDER, "status": "WEIRD"})


@pytest.mark.parametrize("tif", list(TimeInForce))
def test_time_in_force_round_trips(tif):
    assert mapping.TIME_IN_FORCE_FROM[mapping.TIME_IN_FORCE[tif]] is tif


@pytest.mark.parametrize("side", list(Side))
def test_sides_round_trip(side):
    assert mapping.SIDES_FROM[mapping.SIDES[side]] is side


def test_it_reads_a_trade():
    fill = mapping.parse_fill(
        SPOT,
        {
            "symbol": "BNBBTC",
            "id": 28457,
            "orderId": 100234,
            "price": "4.00000100",
            "qty": "12.00000000",
            "commission": "10.10000000",
            "commissionAsset": "BNB",
            "time": 1499865549590,
        },
    )
    assert (fill.trade_id, fill.venue_order_id) == ("28457", "100234")
    assert fill.quantity == Decimal("12") and fill.price == Decimal("4.000001")
    assert fill.fee == Decimal("10.1") and fill.fee_asset == "BNB"
    assert fill.client_order_id is None

"""BitMEX <-> unified mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.bitmex import mapping
from exchanges.errors import InvalidRequestError
from exchanges.types import MarketType, OrderType, PlaceOrder, Side, TimeInForce, VenueStatus

XBTUSD = {
    "symbol": "XBTUSD",
    "rootSymbol": "XBT",
    "state": "Open",
    "typ": "FFWCSX",
    "underlying": "XBT",
    "quoteCurrency": "USD",
    "settlCurrency": "XBt",
    "tickSize": 0.5,
    "lotSize": 100,
    "maxOrderQty": 10000000,
    "multiplier": -100000000,
    "underlyingToSettleMultiplier": -100000000,
    "isInverse": True,
    "isQuanto": False,
}
XBTUSDT = {
    "symbol": "XBTUSDT",
    "rootSymbol": "XBT",
    "state": "Open",
    "typ": "FFWCSX",
    "underlying": "XBT",
    "quoteCurrency": "USDT",
    "settlCurrency": "USDt",
    "tickSize": Decimal("0.5"),
    "lotSize": 1000,
    "maxOrderQty": 1000000000,
    "multiplier": 1,
    "underlyingToPositionMultiplier": 1000000,
    "isInverse": False,
    "isQuanto": False,
}
ETHUSD = {
    "symbol": "ETHUSD",
    "rootSymbol": "ETH",
    "state": "Open",
    "typ": "FFWCSX",
    "underlying": "ETH",
    "quoteCurrency": "USD",
    "settlCurrency": "XBt",
    "tickSize": Decimal("0.05"),
    "lotSize": 1,
    "multiplier": 100,
    "isInverse": False,
    "isQuanto": True,
}
XBTZ25 = {
    **XBTUSD,
    "symbol": "XBTZ25",
    "typ": "FFCCSX",
    "expiry": "2025-12-26T12:00:00.000Z",
}
SOLUSDT = {
    **XBTUSDT,
    "symbol": "SOLUSDT",
    "rootSymbol": "SOL",
    "underlying": "SOL",
    "tickSize": Decimal("0.01"),
    "lotSize": 1000,
    "underlyingToPositionMultiplier": 10000,
}
INDEX = {"symbol": ".BXBT", "typ": "MRCXXX", "state": "Unlisted"}


def test_it_parses_the_inverse_perpetual():
    info = mapping.parse_instrument(XBTUSD)
    assert info.symbol == "BTC/USD:BTC"
    assert (info.base, info.quote, info.settle) == ("BTC", "USD", "BTC")
    assert info.market_type is MarketType.INVERSE
    assert info.contract_size == Decimal(1)  # one contract = 1 USD
    assert info.step_size == info.min_qty == Decimal(100)
    assert info.tick_size == Decimal("0.5")
    assert info.max_qty == Decimal(10000000)


def test_it_parses_the_linear_perpetual_in_base_units():
    info = mapping.parse_instrument(XBTUSDT)
    assert info.symbol == "BTC/USDT:USDT"
    assert info.market_type is MarketType.LINEAR
    assert info.step_size == Decimal("0.001")  # 1000 contracts of 1e-6 XBT
    assert info.contract_size == Decimal(1)
    assert mapping.parse_instrument(SOLUSDT).step_size == Decimal("0.1")


def test_it_parses_the_quanto_perpetual():
    info = mapping.parse_instrument(ETHUSD)
    assert info.symbol == "ETH/USD:BTC"
    assert info.market_type is MarketType.INVERSE
    assert info.contract_size == Decimal("0.000001")  # XBT per contract per 1 USD of price


def test_it_parses_futures_with_their_expiry():
    info = mapping.parse_instrument(XBTZ25)
    assert info.symbol == "BTC/USD:BTC-251226"
    assert info.expiry == datetime(2025, 12, 26, 12, tzinfo=UTC)


def test_it_skips_indices():
    assert mapping.parse_instrument(INDEX) is None


@pytest.mark.parametrize("entry", [XBTUSD, XBTUSDT, ETHUSD, XBTZ25, SOLUSDT])
def test_unified_symbols_round_trip(entry):
    info = mapping.parse_instrument(entry)
    assert mapping.venue_symbol(info.symbol) == info.venue_symbol


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTC/USD:BTC", "XBTUSD"),
        ("BTC/USDT:USDT", "XBTUSDT"),
        ("ETH/USD:BTC", "ETHUSD"),
        ("SOL/USDT:USDT", "SOLUSDT"),
        ("BTC/USD:BTC-260327", "XBTH26"),
        ("BTC/USDT:USDT-251226", "XBTUSDTZ25"),
    ],
)
def test_it_maps_unified_symbols_to_bitmex(symbol, expected):
    assert mapping.venue_symbol(symbol) == expected


def test_it_refuses_spot_symbols():
    with pytest.raises(ValueError):
        mapping.venue_symbol("BTC/USDT")


def test_contracts_convert_both_ways_and_refuse_fractions():
    linear = mapping.Contract.from_instrument(XBTUSDT)
    assert linear.to_contracts(Decimal("0.001")) == 1000
    assert linear.from_contracts(1000) == Decimal("0.001")
    inverse = mapping.Contract.from_instrument(XBTUSD)
    assert inverse.to_contracts(Decimal("100")) == 100
    with pytest.raises(InvalidRequestError) as caught:
        linear.to_contracts(Decimal("0.0000001"))
    assert caught.value.sent is False
    with pytest.raises(InvalidRequestError):
        inverse.to_contracts(Decimal("0"))


def place(**overrides):
    fields = dict(
        venue_symbol="XBTUSD",
        client_order_id="c-1",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("100"),
        price=Decimal("65000.5"),
    )
    fields.update(overrides)
    return PlaceOrder(**fields)


def test_it_builds_order_bodies():
    contract = mapping.Contract.from_instrument(XBTUSD)
    assert mapping.order_body(place(), contract) == {
        "symbol": "XBTUSD",
        "side": "Buy",
        "orderQty": 100,
        "ordType": "Limit",
        "clOrdID": "c-1",
        "price": Decimal("65000.5"),
        "timeInForce": "GoodTillCancel",
    }
    post = mapping.order_body(
        place(time_in_force=TimeInForce.POST_ONLY, reduce_only=True), contract
    )
    assert post["execInst"] == "ParticipateDoNotInitiate,ReduceOnly"
    market = mapping.order_body(
        place(
            order_type=OrderType.MARKET, price=None, side=Side.SELL, time_in_force=TimeInForce.IOC
        ),
        contract,
    )
    assert market == {
        "symbol": "XBTUSD",
        "side": "Sell",
        "orderQty": 100,
        "ordType": "Market",
        "clOrdID": "c-1",
        "timeInForce": "ImmediateOrCancel",
    }
    with pytest.raises(InvalidRequestError):
        mapping.order_body(place(price=None), contract)
    with pytest.raises(InvalidRequestError):
        mapping.order_body(
            place(order_type=OrderType.MARKET, price=None, time_in_force=TimeInForce.POST_ONLY),
            contract,
        )


ORDER = {
    "orderID": "f1b5b6a4-0000-0000-0000-000000000001",
    "clOrdID": "c-1",
    "symbol": "XBTUSDT",
    "side": "Sell",
    "orderQty": 2000,
    "price": Decimal("65000.5"),
    "ordType": "Limit",
    "timeInForce": "GoodTillCancel",
    "ordStatus": "PartiallyFilled",
    "leavesQty": 1000,
    "cumQty": 1000,
    "avgPx": Decimal("65000.5"),
    "transactTime": "2024-11-25T10:30:00.000Z",
    "timestamp": "2024-11-25T10:30:01.500Z",
}


def test_it_reads_an_order_in_unified_units():
    order = mapping.parse_order(ORDER, mapping.Contract.from_instrument(XBTUSDT))
    assert order.venue_order_id == ORDER["orderID"]
    assert order.client_order_id == "c-1"
    assert order.status is VenueStatus.PARTIALLY_FILLED
    assert order.side is Side.SELL
    assert order.quantity == Decimal("0.002") and order.filled_quantity == Decimal("0.001")
    assert order.average_price == Decimal("65000.5")
    assert order.created_at == datetime(2024, 11, 25, 10, 30, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 11, 25, 10, 30, 1, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "cum", "expected"),
    [
        ("New", 0, VenueStatus.NEW),
        ("PendingNew", 0, VenueStatus.NEW),
        ("PartiallyFilled", 1000, VenueStatus.PARTIALLY_FILLED),
        ("Filled", 2000, VenueStatus.FILLED),
        ("Canceled", 0, VenueStatus.CANCELED),
        ("Rejected", 0, VenueStatus.REJECTED),
        ("Expired", 0, VenueStatus.EXPIRED),
        ("PendingCancel", 0, VenueStatus.NEW),
        ("PendingReplace", 1000, VenueStatus.PARTIALLY_FILLED),
    ],
)
def test_it_maps_statuses(status, cum, expected):
    order = mapping.parse_order(
        {**ORDER, "ordStatus": status, "cumQty": cum}, mapping.Contract("XBTUSDT")
    )
    assert order.status is expected


def test_it_refuses_unknown_statuses_and_shapes():
    with pytest.raises(ValueError):
        mapping.parse_order({**ORDER, "ordStatus": "Weird"}, mapping.Contract("XBTUSDT"))
    with pytest.raises(ValueError):
        mapping.parse_order({"orderID": "x"}, mapping.Contract("XBTUSDT"))


def test_it_reads_an_execution_with_the_fee_in_the_settlement_currency():
    fill = mapping.parse_execution(
        {
            "execID": "e-1",
            "trdMatchID": "m-1",
            "orderID": ORDER["orderID"],
            "clOrdID": "c-1",
            "symbol": "XBTUSDT",
            "lastQty": 1000,
            "lastPx": Decimal("65000.5"),
            "execType": "Trade",
            "execComm": 48750,
            "settlCurrency": "USDt",
            "transactTime": "2024-11-25T10:30:00.000Z",
        },
        mapping.Contract.from_instrument(XBTUSDT),
    )
    assert fill.trade_id == "e-1"
    assert fill.quantity == Decimal("0.001")
    assert fill.fee == Decimal("0.04875") and fill.fee_asset == "USDT"
    assert fill.client_order_id == "c-1"


@pytest.mark.parametrize("tif", [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])
def test_time_in_force_is_one_to_one_except_post_only(tif):
    reverse = {v: k for k, v in mapping.TIME_IN_FORCE.items() if k is not TimeInForce.POST_ONLY}
    assert reverse[mapping.TIME_IN_FORCE[tif]] is tif


@pytest.mark.parametrize("order_type", list(OrderType))
def test_order_types_round_trip(order_type):
    assert mapping.ORDER_TYPES_FROM[mapping.ORDER_TYPES[order_type]] is order_type

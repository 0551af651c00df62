"""Every venue API's adapter against the emulator over real HTTP: orders reach the venue's true
state (GET /_emulator/orders), amend, cancel, queries, history and fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchanges.binance import mapping as binance_mapping
from exchanges.bitmex import mapping as bitmex_mapping
from exchanges.calls import observe_calls
from exchanges.errors import AmendPartiallyFailedError, DuplicateOrderError, UnknownOrderError
from exchanges.registry import adapter_for, reset_adapters
from exchanges.types import (
    AmendOrder,
    MarketType,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
    VenueStatus,
)
from tests.integration.exchanges.helpers import (
    BASES,
    client_id,
    instruments_by_symbol,
    limit_order,
    market_order,
    reference_price,
    resting_price,
    traded,
)

VENUE_APIS = ("binance.spot", "binance.usdm", "binance.coinm", "bitmex")


@pytest.fixture
def venue(emulator, fake_clock, db):
    """adapter_for(venue_api) pointed at the emulator; backoffs of the guard never really wait."""
    reset_adapters()
    yield adapter_for
    reset_adapters()


def truth_status(venue_api: str, word: str) -> VenueStatus:
    table = bitmex_mapping.STATUSES if venue_api == "bitmex" else binance_mapping.STATUSES
    return table[word]


def assert_matches_truth(emulator, order, request) -> dict:
    truth = emulator.order(request.client_order_id, order.venue_api)
    assert truth is not None, f"the venue holds no order {request.client_order_id}"
    assert str(truth["order_id"]) == order.venue_order_id
    assert truth_status(order.venue_api, truth["status"]) is order.status
    return truth


@pytest.mark.parametrize("venue_api", VENUE_APIS)
@pytest.mark.parametrize("base", BASES)
def test_a_limit_and_a_market_order_reach_the_venue_on_every_market(
    venue, emulator, venue_api, base
):
    adapter = venue(venue_api)
    markets = traded(adapter, base)
    assert markets, f"{venue_api} lists no {base} market"
    for info in markets:
        limit = limit_order(emulator, info)
        placed = adapter.place_order(limit)
        assert placed.status is VenueStatus.NEW, info.symbol
        assert placed.client_order_id == limit.client_order_id
        assert placed.quantity == limit.quantity and placed.price == limit.price
        read = adapter.get_order(
            venue_symbol=info.venue_symbol, client_order_id=limit.client_order_id
        )
        assert read.venue_order_id == placed.venue_order_id
        assert_matches_truth(emulator, read, limit)

        market = market_order(emulator, info)
        filled = adapter.place_order(market)
        read = adapter.get_order(
            venue_symbol=info.venue_symbol, venue_order_id=filled.venue_order_id
        )
        assert read.status is VenueStatus.FILLED, info.symbol
        assert read.filled_quantity == market.quantity
        assert read.average_price is not None and read.average_price > 0
        assert_matches_truth(emulator, read, market)


@pytest.mark.parametrize("venue_api", VENUE_APIS)
def test_it_cancels_and_reports_the_venues_state(venue, emulator, venue_api):
    adapter = venue(venue_api)
    info = traded(adapter, "BTC")[0]
    request = limit_order(emulator, info)
    adapter.place_order(request)
    canceled = adapter.cancel_order(
        venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
    )
    assert canceled.status is VenueStatus.CANCELED
    assert canceled.client_order_id == request.client_order_id
    assert_matches_truth(emulator, canceled, request)
    assert adapter.open_orders(venue_symbol=info.venue_symbol) == []


@pytest.mark.parametrize("venue_api", VENUE_APIS)
def test_get_order_by_either_id_and_none_when_the_venue_proves_it_absent(
    venue, emulator, venue_api
):
    adapter = venue(venue_api)
    info = traded(adapter, "ETH")[0]
    request = limit_order(emulator, info)
    placed = adapter.place_order(request)
    by_client = adapter.get_order(
        venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
    )
    by_venue = adapter.get_order(
        venue_symbol=info.venue_symbol, venue_order_id=placed.venue_order_id
    )
    assert by_client == by_venue
    assert by_client.venue_order_id == placed.venue_order_id
    assert (
        adapter.get_order(venue_symbol=info.venue_symbol, client_order_id=client_id("never"))
        is None
    )


@pytest.mark.parametrize("venue_api", VENUE_APIS)
def test_a_duplicate_client_order_id_is_a_duplicate_error(venue, emulator, venue_api):
    adapter = venue(venue_api)
    info = traded(adapter, "BTC")[0]
    request = limit_order(emulator, info)
    adapter.place_order(request)
    with pytest.raises(DuplicateOrderError) as caught:
        adapter.place_order(request)
    assert caught.value.sent is True
    assert len(emulator.orders(venue_api, client_order_id=request.client_order_id)) == 1


def test_spot_amend_reducing_quantity_keeps_priority_and_the_client_id(venue, emulator):
    adapter = venue("binance.spot")
    info = instruments_by_symbol(adapter)["BTC/USDT"]
    request = limit_order(emulator, info, lots=3)
    placed = adapter.place_order(request)
    smaller = request.quantity - info.step_size
    with observe_calls() as calls:
        amended = adapter.amend_order(
            AmendOrder(
                venue_symbol=info.venue_symbol,
                client_order_id=request.client_order_id,
                venue_order_id=placed.venue_order_id,
                quantity=smaller,
            )
        )
    assert "/api/v3/order/amend/keepPriority" in [c.endpoint for c in calls]
    assert amended.quantity == smaller
    assert amended.venue_order_id == placed.venue_order_id
    assert amended.client_order_id == request.client_order_id
    truth = assert_matches_truth(emulator, amended, request)
    assert Decimal(truth["quantity"]) == smaller


def test_spot_amend_of_the_price_cancels_and_replaces_under_the_new_client_id(venue, emulator):
    adapter = venue("binance.spot")
    info = instruments_by_symbol(adapter)["ETH/USDT"]
    request = limit_order(emulator, info)
    placed = adapter.place_order(request)
    new_price = request.price - info.tick_size * 10
    new_id = client_id("amend")
    with observe_calls() as calls:
        amended = adapter.amend_order(
            AmendOrder(
                venue_symbol=info.venue_symbol,
                client_order_id=request.client_order_id,
                venue_order_id=placed.venue_order_id,
                price=new_price,
                new_client_order_id=new_id,
            )
        )
    assert "/api/v3/order/cancelReplace" in [c.endpoint for c in calls]
    assert amended.client_order_id == new_id and amended.price == new_price
    assert amended.status is VenueStatus.NEW
    old = emulator.order(request.client_order_id, "binance.spot")
    assert truth_status("binance.spot", old["status"]) is VenueStatus.CANCELED
    new = emulator.order(new_id, "binance.spot")
    assert Decimal(new["price"]) == new_price


@pytest.mark.parametrize(
    ("venue_api", "change"),
    [
        ("binance.usdm", "price"),
        ("binance.usdm", "quantity"),
        ("binance.coinm", "price"),
        ("binance.coinm", "quantity"),
        ("bitmex", "price"),
        ("bitmex", "quantity"),
    ],
)
def test_futures_amend_in_place(venue, emulator, venue_api, change):
    adapter = venue(venue_api)
    info = traded(adapter, "BTC")[0]
    request = limit_order(emulator, info, lots=2)
    placed = adapter.place_order(request)
    new_price = request.price - info.tick_size * 5
    new_quantity = (
        request.quantity + request.quantity / 2
        if info.market_type is not MarketType.INVERSE
        else request.quantity * 2
    )
    amend = AmendOrder(
        venue_symbol=info.venue_symbol,
        client_order_id=request.client_order_id,
        venue_order_id=None,
        price=new_price if change == "price" else None,
        quantity=new_quantity if change == "quantity" else None,
    )
    amended = adapter.amend_order(amend)
    assert amended.venue_order_id == placed.venue_order_id
    assert amended.client_order_id == request.client_order_id
    assert amended.status is VenueStatus.NEW
    read = adapter.get_order(
        venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
    )
    if change == "price":
        assert read.price == new_price and read.quantity == request.quantity
    else:
        assert read.quantity == new_quantity and read.price == request.price
    assert_matches_truth(emulator, read, request)


@pytest.mark.parametrize("venue_api", VENUE_APIS)
def test_open_orders_lists_what_rests(venue, emulator, venue_api):
    adapter = venue(venue_api)
    info = traded(adapter, "SOL")[0]
    requests = [limit_order(emulator, info) for _ in range(2)]
    for request in requests:
        adapter.place_order(request)
    open_ids = {o.client_order_id for o in adapter.open_orders(venue_symbol=info.venue_symbol)}
    assert {r.client_order_id for r in requests} <= open_ids
    assert {r.client_order_id for r in requests} <= {
        o.client_order_id for o in adapter.open_orders()
    }


@pytest.mark.parametrize(
    ("venue_api", "days"),
    [
        ("binance.spot", 3),
        ("binance.usdm", 10),
        ("binance.coinm", 10),
        ("bitmex", 10),
    ],
)
def test_orders_between_walks_a_range_longer_than_the_venues_window(
    venue, emulator, venue_api, days
):
    adapter = venue(venue_api)
    info = traded(adapter, "BTC")[0]
    placed = [adapter.place_order(limit_order(emulator, info)) for _ in range(3)]
    placed.append(adapter.place_order(market_order(emulator, info)))
    adapter.HISTORY_LIMIT = 2  # a full page makes the adapter split the window
    adapter.PAGE_SIZE = 2
    now = datetime.now(UTC)
    with observe_calls() as calls:
        found = adapter.orders_between(
            venue_symbol=info.venue_symbol,
            start=now - timedelta(days=days),
            end=now + timedelta(minutes=1),
        )
    assert {o.venue_order_id for o in placed} <= {o.venue_order_id for o in found}
    assert all(c.outcome == "ok" for c in calls)
    if venue_api != "bitmex":
        assert len(calls) > days  # one window per day at least on spot; several pages/splits
    else:
        assert len(calls) >= 3  # count/start paging with pages of 2


@pytest.mark.parametrize("venue_api", VENUE_APIS)
def test_fills_of_a_market_order(venue, emulator, venue_api):
    adapter = venue(venue_api)
    info = traded(adapter, "BTC")[0]
    request = market_order(emulator, info)
    placed = adapter.place_order(request)
    fills = adapter.fills(venue_symbol=info.venue_symbol, venue_order_id=placed.venue_order_id)
    assert fills and sum(f.quantity for f in fills) == request.quantity
    assert all(f.venue_order_id == placed.venue_order_id and f.price > 0 for f in fills)
    now = datetime.now(UTC)
    recent = adapter.fills(
        venue_symbol=info.venue_symbol,
        start=now - timedelta(hours=1),
        end=now + timedelta(minutes=1),
    )
    assert {f.trade_id for f in fills} <= {f.trade_id for f in recent}


def test_market_orders_are_reported_as_market(venue, emulator):
    adapter = venue("binance.usdm")
    info = instruments_by_symbol(adapter)["BTC/USDT:USDT"]
    placed = adapter.place_order(market_order(emulator, info, side=Side.SELL))
    assert placed.order_type is OrderType.MARKET and placed.side is Side.SELL


def test_spot_cancel_replace_into_a_crossing_post_only_order_cancels_but_does_not_replace(
    venue, emulator
):
    adapter = venue("binance.spot")
    info = instruments_by_symbol(adapter)["BTC/USDT"]
    request = limit_order(emulator, info, side=Side.BUY)
    request = PlaceOrder(**{**request.__dict__, "time_in_force": TimeInForce.POST_ONLY})
    placed = adapter.place_order(request)
    crossing = resting_price(info, reference_price(emulator, info), Side.SELL)  # above the ask
    with pytest.raises(AmendPartiallyFailedError) as caught:
        adapter.amend_order(
            AmendOrder(
                venue_symbol=info.venue_symbol,
                client_order_id=request.client_order_id,
                venue_order_id=placed.venue_order_id,
                price=crossing,
                new_client_order_id=client_id("amend"),
            )
        )
    assert caught.value.status == 409 and caught.value.code == -2021
    assert caught.value.canceled_order.status is VenueStatus.CANCELED
    assert caught.value.canceled_order.client_order_id == request.client_order_id
    old = emulator.order(request.client_order_id, "binance.spot")
    assert truth_status("binance.spot", old["status"]) is VenueStatus.CANCELED


def test_spot_cancel_replace_of_an_unknown_order_is_an_unknown_order(venue, emulator):
    adapter = venue("binance.spot")
    info = instruments_by_symbol(adapter)["BTC/USDT"]
    request = limit_order(emulator, info)
    with pytest.raises(UnknownOrderError):
        adapter.amend_order(
            AmendOrder(
                venue_symbol=info.venue_symbol,
                client_order_id=client_id("ghost"),
                venue_order_id=None,
                quantity=request.quantity,
                price=request.price,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                new_client_order_id=client_id("amend"),
            )
        )
    assert emulator.orders("binance.spot", open=True) == []


@pytest.mark.parametrize("venue_api", ["binance.spot", "binance.usdm", "binance.coinm"])
def test_cancelling_a_filled_binance_order_is_an_unknown_order(venue, emulator, venue_api):
    adapter = venue(venue_api)
    info = traded(adapter, "BTC")[0]
    request = market_order(emulator, info)
    adapter.place_order(request)
    with pytest.raises(UnknownOrderError) as caught:
        adapter.cancel_order(
            venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
        )
    assert caught.value.code == -2011
    assert (
        adapter.get_order(
            venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
        ).status
        is VenueStatus.FILLED
    )


def test_cancelling_a_filled_bitmex_order_returns_it_filled(venue, emulator):
    adapter = venue("bitmex")
    info = instruments_by_symbol(adapter)["BTC/USD:BTC"]
    request = market_order(emulator, info)
    adapter.place_order(request)
    order = adapter.cancel_order(
        venue_symbol=info.venue_symbol, client_order_id=request.client_order_id
    )
    assert order.status is VenueStatus.FILLED
    assert order.client_order_id == request.client_order_id


def test_cancelling_an_unknown_order_is_an_unknown_order_everywhere(venue, emulator):
    for venue_api in VENUE_APIS:
        adapter = venue(venue_api)
        info = traded(adapter, "BTC")[0]
        with pytest.raises(UnknownOrderError):
            adapter.cancel_order(venue_symbol=info.venue_symbol, client_order_id=client_id("ghost"))

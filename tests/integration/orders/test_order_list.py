"""GET /api/v1/orders: filters and keyset pagination over a few thousand orders."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from orders.models import Order

pytestmark = pytest.mark.django_db

STATES = ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PENDING_NEW", "REJECTED"]
MARKETS = ["binance.usdm:BTCUSDT", "binance.spot:ETHUSDT", "bitmex:XBTUSD", "bitmex:XBTUSDT"]
N = 3000


@pytest.fixture
def many_orders(api, other_api, instruments):
    rng = random.Random(7)
    start = timezone.now() - timedelta(days=10)
    rows = []
    for i in range(N):
        inst = instruments[rng.choice(MARKETS)]
        # many orders share a timestamp so the id tie-break is exercised
        created = start + timedelta(seconds=rng.randrange(0, 10 * 86400, 60) if i % 3 else 0)
        rows.append(
            Order(
                account=api.account if i % 10 else other_api.account,
                instrument=inst,
                venue=inst.venue,
                venue_api=inst.venue_api,
                side="buy",
                type="limit",
                quantity=Decimal("1"),
                price=Decimal("100"),
                state=rng.choice(STATES),
                client_order_id=f"bulk{i:030d}",
                created_at=created,
                updated_at=created,
            )
        )
    Order.objects.bulk_create(rows, batch_size=1000)
    return list(
        Order.objects.filter(account=api.account)
        .select_related("instrument")
        .order_by("-created_at", "-id")
    )


def walk(api, query: dict) -> list[int]:
    url = "/api/v1/orders?" + urlencode(query, doseq=True)
    ids: list[int] = []
    pages = 0
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids.extend(o["id"] for o in body["results"])
        url = body["next"]
        pages += 1
        assert pages < 100
    return ids


def test_pages_walk_every_order_once_newest_first(api, many_orders):
    ids = walk(api, {"limit": 250})
    assert ids == [o.pk for o in many_orders]
    assert len(ids) == len(set(ids)) == int(N * 0.9)


def test_filter_by_several_states(api, many_orders):
    ids = walk(api, {"state": ["NEW", "filled"], "limit": 500})
    assert ids == [o.pk for o in many_orders if o.state in ("NEW", "FILLED")]
    assert walk(api, {"state": "CANCELED,REJECTED", "limit": 500}) == [
        o.pk for o in many_orders if o.state in ("CANCELED", "REJECTED")
    ]


def test_filter_by_exchange_and_symbol(api, many_orders):
    assert walk(api, {"exchange": "bitmex", "limit": 500}) == [
        o.pk for o in many_orders if o.venue == "bitmex"
    ]
    # BTC/USD:BTC is XBTUSD on bitmex (and would be BTCUSD_PERP on binance)
    assert walk(api, {"symbol": "BTC/USD:BTC", "limit": 500}) == [
        o.pk for o in many_orders if o.instrument.symbol == "BTC/USD:BTC"
    ]
    assert walk(api, {"symbol": "BTC/USDT:USDT", "exchange": "binance", "limit": 500}) == [
        o.pk for o in many_orders if o.instrument.symbol == "BTC/USDT:USDT" and o.venue == "binance"
    ]


def test_filter_by_created_range(api, many_orders):
    after = many_orders[len(many_orders) // 2].created_at
    before = many_orders[len(many_orders) // 5].created_at
    ids = walk(
        api,
        {"created_after": after.isoformat(), "created_before": before.isoformat(), "limit": 300},
    )
    assert ids == [o.pk for o in many_orders if after <= o.created_at < before]
    assert ids


def test_filter_by_ids(api, many_orders):
    chosen = [o.pk for o in many_orders[5:15]]
    assert walk(api, {"ids": ",".join(map(str, chosen))}) == chosen
    assert walk(api, {"ids": chosen[:3]}) == chosen[:3]


def test_filters_combine_with_pagination(api, many_orders):
    ids = walk(api, {"state": "NEW", "exchange": "binance", "limit": 7})
    assert ids == [o.pk for o in many_orders if o.state == "NEW" and o.venue == "binance"]


@pytest.mark.parametrize(
    "query",
    [
        "state=BOGUS",
        "created_after=yesterday",
        "exchange=kraken",
        "limit=0",
        "limit=501",
        "ids=abc",
        "cursor=not-a-cursor",
        "cursor=eyJ4IjoxfQ",
    ],
)
def test_bad_filters_are_400(api, instruments, query):
    response = api.get(f"/api/v1/orders?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


def test_the_list_query_uses_the_account_index(api, many_orders):
    from django.db import connection

    from orders import selectors

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    qs = Order.objects.filter(account=api.account, state__in=["NEW"]).order_by(
        "-created_at", "-id"
    )[:100]
    plan = qs.explain()
    assert "order_account_state" in plan or "order_account_created" in plan, plan
    assert selectors.order_list(account=api.account, limit=5).next_cursor

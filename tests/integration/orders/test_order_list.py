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
N = 2500


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


def test_every_filter_and_their_combinations_match(api, many_orders):
    """One data set for all filters (building it is the slow part)."""
    after = many_orders[len(many_orders) // 2].created_at
    before = many_orders[len(many_orders) // 5].created_at
    chosen = [o.pk for o in many_orders[5:15]]
    cases = [
        ({"state": ["NEW", "filled"]}, lambda o: o.state in ("NEW", "FILLED")),
        ({"state": "CANCELED,REJECTED"}, lambda o: o.state in ("CANCELED", "REJECTED")),
        ({"exchange": "bitmex"}, lambda o: o.venue == "bitmex"),
        # BTC/USD:BTC is XBTUSD on bitmex (and would be BTCUSD_PERP on binance)
        ({"symbol": "BTC/USD:BTC"}, lambda o: o.instrument.symbol == "BTC/USD:BTC"),
        (
            {"symbol": "BTC/USDT:USDT", "exchange": "binance"},
            lambda o: o.instrument.symbol == "BTC/USDT:USDT" and o.venue == "binance",
        ),
        (
            {"created_after": after.isoformat(), "created_before": before.isoformat()},
            lambda o: after <= o.created_at < before,
        ),
        ({"ids": ",".join(map(str, chosen))}, lambda o: o.pk in chosen),
        ({"ids": chosen[:3]}, lambda o: o.pk in chosen[:3]),
        (
            {"state": "NEW", "exchange": "binance", "limit": 7},
            lambda o: o.state == "NEW" and o.venue == "binance",
        ),
    ]
    for query, keep in cases:
        expected = [o.pk for o in many_orders if keep(o)]
        assert expected, query
        assert walk(api, {"limit": 500, **query}) == expected, query


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

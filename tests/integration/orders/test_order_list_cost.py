"""What a page of GET /api/v1/orders costs besides the index scan: a fixed number of queries
whatever the page holds, no model instances, and a written-out rendering that must stay equal
to what DRF builds from OrderOutputSerializer's declared fields (the OpenAPI schema)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework import serializers

from orders import selectors
from orders.apis import OrderOutputSerializer, render_orders
from orders.models import Order

pytestmark = pytest.mark.django_db


def drf_walk(order) -> dict:
    """DRF's generic field-by-field representation (what the written-out one replaces)."""
    return serializers.Serializer.to_representation(OrderOutputSerializer(), order)


@pytest.fixture
def varied(account, order_factory):
    """Orders with every kind of value the Order shape holds: nulls, decimals with trailing
    zeros and exponents, cancel timestamps (latency), an amend in flight, failover venues."""
    now = timezone.now().replace(microsecond=123456)
    return [
        order_factory(account),
        order_factory(
            account,
            type="market",
            price=None,
            time_in_force=None,
            quantity=Decimal("1E+2"),
            instrument="bitmex:XBTUSDT",
        ),
        order_factory(
            account,
            state="CANCELED",
            cancel_requested_at=now - timedelta(seconds=2),
            cancel_confirmed_at=now - timedelta(milliseconds=1500),
            cancel_confirm_source="ack",
            venue_order_id="123456789",
        ),
        order_factory(
            account,
            state="PENDING_AMEND",
            amend_quantity=Decimal("0.020000"),
            amend_price=Decimal("64000.00"),
            failover_venues=["bitmex"],
        ),
        order_factory(
            account,
            state="FILLED",
            filled_quantity=Decimal("0.010"),
            average_price=Decimal("65000.123400000000000000"),
            instrument="binance.spot:ETHUSDT",
        ),
        order_factory(account, state="REJECTED", reject_reason="Order would immediately match"),
    ]


@contextlib.contextmanager
def order_queries():
    """The SQL run inside the block that reads orders or instruments (authentication and
    throttling have their own tests and caches)."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        if "orders_order" in sql or "orders_instrument" in sql:
            seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def test_the_written_out_rendering_equals_drf_field_by_field(varied):
    for order in varied:
        order = Order.objects.select_related("instrument").get(pk=order.pk)
        fast, walked = OrderOutputSerializer(order).data, drf_walk(order)
        assert list(fast.items()) == list(walked.items())  # same keys, same order, same values


def test_a_list_row_renders_as_its_order_does(account, varied):
    rows = selectors.order_list(account=account, limit=100).results
    assert {type(row) for row in rows} == {selectors.OrderRow}
    orders = {o.pk: o for o in Order.objects.select_related("instrument")}
    assert render_orders(rows) == [drf_walk(orders[row.pk]) for row in rows]
    assert [row.pk for row in rows] == sorted(orders, key=lambda pk: (orders[pk].created_at, pk))[
        ::-1
    ]


def test_rendering_a_page_runs_no_query(account, varied):
    rows = selectors.order_list(account=account, limit=100).results
    with order_queries() as seen:
        render_orders(rows)
    assert seen == []


@pytest.fixture
def pages(api, order_factory):
    """120 orders on two venues (BTC/USDT:USDT on binance.usdm and bitmex), two states."""
    for i in range(120):
        order_factory(
            api.account,
            state="FILLED" if i % 2 else "CANCELED",
            instrument="bitmex:XBTUSDT" if i % 3 else "binance.usdm:BTCUSDT",
            events=False,
        )
    return api


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", 1),  # one query: the page with its instruments joined
        ("&state=FILLED", 1),
        ("&state=FILLED,CANCELED", 2),  # the newest ids merged from per-state scans, then rows
        ("&symbol=BTC/USDT:USDT", 3),  # + the symbol's instruments
    ],
)
def test_a_list_page_runs_the_same_few_queries_whatever_its_size(pages, query, expected):
    counts = []
    for limit in (5, 50):
        with order_queries() as seen:
            response = pages.get(f"/api/v1/orders?limit={limit}{query}")
        assert response.status_code == 200, response.content
        assert len(response.json()["results"]) == limit
        counts.append(len(seen))
    assert counts == [expected, expected]

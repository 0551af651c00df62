"""The orders admin renders fast on many rows, and operator actions are audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import lifecycle
from orders.models import Order, OrderAttempt, OrderEvent

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/orders/order/"


def test_the_order_list_renders_with_every_filter(admin_client, account, order_factory):
    order = order_factory(account, state="NEW", venue_order_id="V-77")
    for query in (
        "",
        "?state=NEW",
        "?venue=binance",
        "?instrument__market_type=linear",
        "?symbol=BTC/USDT:USDT",
        "?created_at__gte=2000-01-01T00:00:00%2B00:00",
        f"?q={order.client_order_id}",
        "?q=V-77",
        f"?q={order.pk}",
    ):
        response = admin_client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        assert order.client_order_id in response.content.decode(), query
    response = admin_client.get(CHANGELIST + "?q=nothing-like-this")
    assert order.client_order_id not in response.content.decode()
    assert (
        admin_client.get(CHANGELIST + "?state=FILLED").content.decode().count(order.client_order_id)
        == 0
    )


def test_the_list_query_count_does_not_grow_with_rows(
    admin_client, account, order_factory, django_assert_max_num_queries
):
    for _ in range(3):
        order_factory(account, state="NEW", events=False)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(CHANGELIST)
    for _ in range(40):
        order_factory(account, state="NEW", events=False)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get(CHANGELIST).status_code == 200


def test_the_order_page_shows_events_fills_and_attempts_read_only(
    admin_client, account, order_factory
):
    order = order_factory(account, state="NEW")
    lifecycle.apply_fill(
        order,
        trade_id="T-1",
        quantity=Decimal("0.004"),
        price=Decimal("65000"),
        fee=Decimal("0.1"),
        fee_asset="USDT",
        ts=timezone.now(),
        actor="worker",
    )
    OrderAttempt.objects.create(
        order=order,
        operation="submit",
        venue_api=order.venue_api,
        endpoint="POST /fapi/v1/order",
        client_order_id=order.client_order_id,
        outcome="ok",
        http_status=200,
    )
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "T-1" in page and "POST /fapi/v1/order" in page and "PARTIALLY_FILLED" in page
    assert 'name="state"' not in page  # state is not an input
    assert 'name="_save"' not in page
    # a POST to the change form cannot move the state
    admin_client.post(reverse("admin:orders_order_change", args=[order.pk]), {"state": "FILLED"})
    assert Order.objects.get(pk=order.pk).state == "PARTIALLY_FILLED"


def test_operator_cancel_goes_through_the_service_and_is_audited(
    admin_client, admin_user, account, order_factory
):
    orders = [order_factory(account, state="NEW") for _ in range(2)]
    filled = order_factory(account, state="FILLED")
    response = admin_client.post(
        CHANGELIST,
        {"action": "request_cancel", "_selected_action": [o.pk for o in [*orders, filled]]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode().lower()
    assert "cancel requested for 2 order(s)" in page and "refused" in page
    for order in orders:
        row = Order.objects.get(pk=order.pk)
        assert row.state == "PENDING_CANCEL" and row.cancel_requested_at
        event = row.events.get(sequence=2)
        assert event.actor == "operator"
        assert admin_user.username in event.reason
        assert event.venue_payload == {"operator": admin_user.username}
    assert Order.objects.get(pk=filled.pk).state == "FILLED"


def test_operator_reconcile_is_recorded_as_an_event(
    admin_client, admin_user, account, order_factory
):
    order = order_factory(account, state="SUBMIT_UNKNOWN")
    admin_client.post(CHANGELIST, {"action": "request_reconcile", "_selected_action": [order.pk]})
    event = OrderEvent.objects.get(order=order, sequence=2)
    assert (event.actor, event.from_state, event.to_state) == (
        "operator",
        "SUBMIT_UNKNOWN",
        "SUBMIT_UNKNOWN",
    )
    assert admin_user.username in event.reason


def test_orders_cannot_be_added_or_deleted_in_the_admin(admin_client, account, order_factory):
    order = order_factory(account, state="NEW")
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    assert admin_client.get(f"/admin/orders/order/{order.pk}/delete/").status_code == 403


def test_the_instrument_admin_renders(admin_client, instruments):
    response = admin_client.get("/admin/orders/instrument/?market_type=inverse")
    assert response.status_code == 200
    assert "XBTUSD" in response.content.decode()
    inst = instruments["bitmex:XBTUSD"]
    assert admin_client.get(f"/admin/orders/instrument/{inst.pk}/change/").status_code == 200


def test_the_paginator_estimates_big_unfiltered_tables(account, order_factory):
    from django.db import connection

    from orders.admin_orders import EstimatedCountPaginator

    for _ in range(3):
        order_factory(account, state="NEW", events=False)
    assert EstimatedCountPaginator(Order.objects.order_by("pk"), 10).count == 3
    assert EstimatedCountPaginator(Order.objects.filter(state="NEW").order_by("pk"), 10).count == 3
    with connection.cursor() as cursor:  # pretend the planner saw a million rows
        cursor.execute(
            "UPDATE pg_class SET reltuples = 1000000 WHERE oid = 'orders_order'::regclass"
        )
    assert EstimatedCountPaginator(Order.objects.order_by("pk"), 10).count == 1_000_000
    assert EstimatedCountPaginator(Order.objects.filter(state="NEW").order_by("pk"), 10).count == 3

"""One order's events, fills and venue-call attempts in one chronological view."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.console import selectors
from orders.models import Fill, OrderAttempt, OrderEvent

pytestmark = pytest.mark.django_db


def _url(order) -> str:
    return f"/admin/orders/order/{order.pk}/timeline/"


def _attempt(order, at, **fields) -> OrderAttempt:
    defaults = {
        "operation": "submit",
        "venue_api": order.venue_api,
        "endpoint": "POST /fapi/v1/order",
        "client_order_id": order.client_order_id,
        "outcome": "ok",
        "http_status": 200,
        "duration_ms": 12,
    }
    return OrderAttempt.objects.create(order=order, started_at=at, **{**defaults, **fields})


def _event(order, sequence, at, from_state, to_state, actor, reason) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        sequence=sequence,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        reason=reason,
        created_at=at,
        correlation_id="corr-1",
    )


def _an_order_that_timed_out_then_filled(account, order_factory):
    """accept -> submit times out -> SUBMIT_UNKNOWN -> reconcile finds it -> NEW -> fill."""
    t0 = timezone.now() - timedelta(minutes=5)
    order = order_factory(account, state="FILLED", events=False, created_at=t0)
    _event(order, 1, t0, None, "PENDING_NEW", "api", "accepted by the API")
    _attempt(
        order,
        t0 + timedelta(seconds=1),
        outcome="outcome_unknown",
        http_status=None,
        error_class="outcome_unknown",
        error_message="read timeout",
    )
    _event(
        order,
        2,
        t0 + timedelta(seconds=11),
        "PENDING_NEW",
        "SUBMIT_UNKNOWN",
        "worker",
        "submit timed out",
    )
    _attempt(order, t0 + timedelta(seconds=30), operation="query", endpoint="GET /fapi/v1/order")
    _event(
        order,
        3,
        t0 + timedelta(seconds=30),
        "SUBMIT_UNKNOWN",
        "NEW",
        "reconciler",
        "found at the venue",
    )
    Fill.objects.create(
        order=order,
        venue_api=order.venue_api,
        trade_id="T-9",
        quantity=Decimal("0.010"),
        price=Decimal("65000.5"),
        ts=t0 + timedelta(seconds=40),
    )
    _event(order, 4, t0 + timedelta(seconds=41), "NEW", "FILLED", "worker", "venue fill")
    return order


def test_it_merges_events_fills_and_attempts_in_the_order_they_happened(
    admin_client, account, order_factory
):
    order = _an_order_that_timed_out_then_filled(account, order_factory)
    timeline = selectors.order_timeline(order_id=order.pk)
    kinds = [
        (e.kind, getattr(e.row, "to_state", getattr(e.row, "operation", "fill")))
        for e in timeline.entries
    ]
    assert kinds == [
        ("event", "PENDING_NEW"),
        ("attempt", "submit"),
        ("event", "SUBMIT_UNKNOWN"),
        ("attempt", "query"),  # same instant as the event it caused: the call comes first
        ("event", "NEW"),
        ("fill", "fill"),
        ("event", "FILLED"),
    ]
    assert timeline.counts == {"event": 4, "fill": 1, "attempt": 2} and not timeline.truncated

    page = admin_client.get(_url(order)).content.decode()
    rows = page[page.index('id="timeline"') :]
    for text in (
        "accepted by the API",
        "read timeout",
        "submit timed out",
        "GET /fapi/v1/order",
        "found at the venue",
        "T-9",
        "venue fill",
    ):
        assert text in rows, text
    assert rows.index("read timeout") < rows.index("submit timed out") < rows.index("T-9")
    assert "by reconciler" in rows and "correlation id corr-1" in rows
    assert order.client_order_id in page
    assert "0.01 @ 65000.5" in page  # decimals without the column's trailing zeros


def test_the_query_count_does_not_grow_with_history(
    admin_client, account, order_factory, django_assert_max_num_queries
):
    order = order_factory(account, state="NEW")
    with django_assert_max_num_queries(10) as few:
        assert admin_client.get(_url(order)).status_code == 200
    for i in range(30):
        lifecycle.note(order, actor="worker", reason=f"note {i}")
        _attempt(order, timezone.now(), operation="query")
        Fill.objects.create(
            order=order,
            venue_api=order.venue_api,
            trade_id=f"T-{i}",
            quantity=1,
            price=1,
            ts=timezone.now(),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = admin_client.get(_url(order)).content.decode()
    assert page.count('<tr class="fill">') == 30 and page.count('<tr class="attempt">') == 30


def test_a_long_history_is_cut_and_says_so(account, order_factory, monkeypatch):
    order = order_factory(account, state="NEW")
    for i in range(3):
        lifecycle.note(order, actor="worker", reason=f"note {i}")
    monkeypatch.setattr(selectors, "TIMELINE_LIMIT", 2)
    timeline = selectors.order_timeline(order_id=order.pk)
    assert timeline.truncated and len(timeline.entries) == 2


def test_the_order_page_and_list_link_to_the_timeline(admin_client, account, order_factory):
    order = order_factory(account, state="NEW")
    change = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert _url(order) in change
    assert _url(order) in admin_client.get("/admin/orders/order/").content.decode()


def test_an_unknown_order_is_a_404(admin_client):
    assert admin_client.get("/admin/orders/order/999999/timeline/").status_code == 404


def test_it_needs_the_view_order_permission(client, account, order_factory):
    from django.contrib.auth.models import User

    order = order_factory(account, state="NEW")
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))
    assert client.get(_url(order)).status_code == 403

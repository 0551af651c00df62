"""The operations dashboard: orders by state, outcome-unknown orders with their age, breakers
per venue API (live from Redis), reconciliation corrections and operator actions, in a bounded
number of queries however many rows there are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.utils import timezone

from orders import lifecycle
from orders.console import counts, selectors
from orders.models import OrderEvent
from reliability.breaker import breaker_for

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"


def _page(client) -> str:
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    return response.content.decode()


def _correct(order, to_state, reason):
    """What the reconciler writes when the venue's truth differs from ours."""
    order.refresh_from_db()
    lifecycle.transition(order, to_state, actor="reconciler", reason=reason)


def test_it_counts_orders_by_state(admin_client, account, order_factory):
    for state in ("NEW", "NEW", "FILLED", "CANCELED", "SUBMIT_UNKNOWN"):
        order_factory(account, state=state, events=False)
    page = _page(admin_client)
    by_state = {row.state: row.count for row in selectors.orders_by_state().rows}
    assert by_state["NEW"] == 2 and by_state["FILLED"] == 1 and by_state["SUBMIT_UNKNOWN"] == 1
    assert by_state["REJECTED"] == 0
    assert 'data-state="NEW"' in page and "?state__exact=SUBMIT_UNKNOWN" in page
    assert "estimated" not in page  # small table: exact counts


def test_it_lists_outcome_unknown_orders_oldest_first_with_their_age(
    admin_client, account, order_factory
):
    now = timezone.now()
    young = order_factory(
        account, state="SUBMIT_UNKNOWN", unknown_since=now - timedelta(seconds=40)
    )
    old = order_factory(
        account,
        state="SUBMIT_UNKNOWN",
        unknown_since=now - timedelta(hours=2, minutes=5),
        submit_deadline=now - timedelta(hours=1),
    )
    order_factory(account, state="NEW")
    rows = selectors.unknown_orders(now=now)
    assert [r.order.pk for r in rows] == [old.pk, young.pk]
    assert rows[0].overdue and not rows[1].overdue
    assert (rows[0].age_text, rows[1].age_text) == ("2 h 5 min", "40 s")
    page = _page(admin_client)
    assert page.index(f'data-order-id="{old.pk}"') < page.index(f'data-order-id="{young.pk}"')
    assert "past deadline" in page
    assert f"/admin/orders/order/{old.pk}/timeline/" in page


def test_it_shows_each_venue_apis_breaker_live_from_redis(
    admin_client, fresh_reliability, settings
):
    breaker_for("bitmex").force_open(by="alice", reason="venue maintenance")
    page = _page(admin_client)
    for api in settings.VENUE_APIS:
        assert f'data-venue-api="{api}"' in page
    assert 'data-venue-api="bitmex" data-state="forced_open"' in page
    assert 'data-venue-api="binance.usdm" data-state="closed"' in page
    assert "venue maintenance" in page and "by alice" in page


def test_it_shows_the_latest_reconciliation_corrections(admin_client, account, order_factory):
    order = order_factory(account, state="SUBMIT_UNKNOWN")
    _correct(order, "FILLED", "reconciliation: the venue filled it")
    other = order_factory(account, state="NEW")
    lifecycle.transition(other, "PARTIALLY_FILLED", actor="worker", reason="venue fill")
    corrections = selectors.latest_corrections()
    assert [(e.order_id, e.to_state) for e in corrections] == [(order.pk, "FILLED")]
    page = _page(admin_client)
    assert f'class="correction" data-order-id="{order.pk}"' in page
    assert "the venue filled it" in page


def test_it_shows_operator_actions_on_orders_and_breakers_newest_first(
    admin_client, admin_user, account, order_factory, fresh_reliability
):
    order = order_factory(account, state="NEW")
    admin_client.post(
        "/admin/orders/order/", {"action": "request_cancel", "_selected_action": [order.pk]}
    )
    breaker_for("binance.spot").force_open(by="bob", reason="drill")
    page = _page(admin_client)
    table = page[page.index('id="operator-actions"') :]
    assert table.index('data-kind="breaker"') < table.index('data-kind="order"')
    assert f"cancel requested by operator {admin_user.username}" in table
    assert "bob: drill" in table


def test_the_query_count_does_not_grow_with_rows(
    admin_client, account, order_factory, fresh_reliability, django_assert_max_num_queries
):
    def seed(n):
        for _ in range(n):
            order = order_factory(account, state="SUBMIT_UNKNOWN")
            _correct(order, "NEW", "reconciliation: found resting")
            lifecycle.note(order, actor="operator", reason="looked at it")

    seed(1)
    breaker_for("bitmex").force_open(by="alice", reason="x")
    with django_assert_max_num_queries(12) as few:
        _page(admin_client)
    seed(25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = _page(admin_client)
    assert page.count('class="correction"') == 20  # the latest 20


def test_big_tables_get_estimated_counts_open_states_stay_exact(
    account, order_factory, monkeypatch
):
    for state in ["FILLED"] * 30 + ["CANCELED"] * 10 + ["NEW"] * 3 + ["FAILED"]:
        order_factory(account, state=state, events=False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")  # as autovacuum would: pg_class, pg_stats
    monkeypatch.setattr(selectors, "EXACT_BELOW", 10)
    assert counts.table_estimate(selectors.Order) == 44
    result = selectors.orders_by_state()
    rows = {row.state: row for row in result.rows}
    assert result.estimated and result.total == 44
    assert rows["FILLED"].estimated and rows["FILLED"].count == 30  # 30/44 of 44 rows
    assert not rows["NEW"].estimated and rows["NEW"].count == 3  # open: always exact
    assert rows["SUBMIT_UNKNOWN"].count == 0


def test_a_rare_terminal_state_is_counted_capped_on_a_big_table(
    account, order_factory, monkeypatch
):
    for state in ["FILLED"] * 20 + ["REJECTED"]:
        order_factory(account, state=state, events=False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    monkeypatch.setattr(selectors, "EXACT_BELOW", 10)
    monkeypatch.setattr(selectors, "value_frequencies", lambda model, column: {"FILLED": 20 / 21})
    rows = {row.state: row for row in selectors.orders_by_state().rows}
    assert rows["REJECTED"].count == 1 and not rows["REJECTED"].estimated
    assert rows["EXPIRED"].count == 0


def test_operators_without_order_permission_are_refused(client, db):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(DASHBOARD).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    user = User.objects.get(pk=user.pk)
    client.force_login(user)
    page = client.get(DASHBOARD).content.decode()
    assert 'id="orders-by-state"' in page
    assert 'id="venues"' not in page  # breakers need reliability's view permission


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_index_leads_to_the_dashboard(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in page and "Trading platform console" in page


def test_no_rows_means_no_corrections_and_no_unknown_orders(admin_client):
    page = _page(admin_client)
    assert "No corrections yet." in page and "every sent order has a known outcome" in page
    assert OrderEvent.objects.count() == 0


def test_it_shows_the_oldest_unknown_orders_and_links_to_all(
    admin_client, account, order_factory, monkeypatch
):
    from orders.console import views

    for _ in range(3):
        order_factory(account, state="SUBMIT_UNKNOWN")
    monkeypatch.setattr(views, "UNKNOWN_SHOWN", 2)
    page = _page(admin_client)
    assert page.count('class="unknown-order"') == 2
    assert "The oldest 2 of 3" in page


def test_it_shows_platform_and_venue_health_from_the_monitoring_registry(admin_client):
    from monitoring import health

    health.register_check(
        "binance.coinm", lambda: {"ok": False, "error": "connect refused"}, kind="venue"
    )
    health.unregister_check("bitmex")  # exchanges registers one per venue API; drop one
    health.clear_cache()
    try:
        page = _page(admin_client)
    finally:
        health.unregister_check("binance.coinm")
        health.clear_cache()
    row = page[page.index('data-venue-api="binance.coinm"') :]
    row = row[: row.index("</tr>")]
    assert "health-down" in row and "connect refused" in row
    bitmex = page[page.index('data-venue-api="bitmex"') :]
    assert "no probe registered" in bitmex[: bitmex.index("</tr>")]  # unregistered above
    spot = page[page.index('data-venue-api="binance.spot"') :]
    # binance.spot keeps its real probe: the test stage has no venue keys, so it never calls
    assert "no API credentials configured" in spot[: spot.index("</tr>")]
    assert 'data-check="postgresql"' in page and 'data-check="redis"' in page
    assert 'id="health-status" class="health-degraded"' in page  # a venue down: degraded


def test_it_links_the_breaker_board(admin_client):
    page = _page(admin_client)
    assert 'id="breaker-board-link" href="/admin/reliability/breakerboard/"' in page
    assert "/admin/reliability/breakerboard/" in admin_client.get("/admin/").content.decode()

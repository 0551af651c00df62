"""An operator in a real browser (Chromium) against a live server: logs in, finds an order and
reads its history; forces a venue API's breaker open and sees the API refuse new orders for that
venue (and fail over those that name a fallback); resets it and sees the API accept again."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from orders import lifecycle
from orders.models import Order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORDER = {
    "exchange": "binance",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.010",
    "price": "65000.5",
    "time_in_force": "GTC",
}


@pytest.fixture
def client_api(live_server, make_key, instruments):
    """A trading client talking to the live server over HTTP."""
    _key, raw = make_key(account="desk-e2e")
    with httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {raw}"},
        timeout=20,
    ) as client:
        yield client


def _log_in(page: Page, live_server, admin_user) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "password")  # pytest-django's admin_user
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Operations dashboard")


def test_an_operator_finds_an_order_and_reads_its_history(
    page: Page, live_server, admin_user, client_api
):
    response = client_api.post("/orders", json=ORDER)
    assert response.status_code == 202, response.text
    order = Order.objects.get(pk=response.json()["id"])
    # what the worker records when the venue acknowledges and fills part of it
    lifecycle.transition(
        order,
        "NEW",
        actor="worker",
        reason="acknowledged by binance.usdm",
        fields={"venue_order_id": "8389765"},
    )
    lifecycle.apply_fill(
        order,
        trade_id="T-77",
        quantity=Decimal("0.004"),
        price=Decimal("65000.5"),
        fee=Decimal("0.01"),
        fee_asset="USDT",
        ts=timezone.now(),
        actor="worker",
    )

    _log_in(page, live_server, admin_user)
    page.click("text=All orders")
    page.fill("#searchbar", order.client_order_id)
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("a", has_text="timeline").click()

    expect(page.locator("#order-state")).to_have_text("PARTIALLY_FILLED")
    timeline = page.locator("#timeline tbody")
    expect(timeline.locator("tr.event")).to_have_count(3)
    expect(timeline.locator("tr.fill")).to_contain_text("0.004 @ 65000.5")
    expect(timeline.locator("tr.event").nth(0)).to_contain_text("accepted by the API")
    expect(timeline.locator("tr.event").nth(1)).to_contain_text("acknowledged by binance.usdm")
    expect(page.locator("#order-summary")).to_contain_text("8389765")


def _operate(page: Page, venue_api: str, action: str, reason: str) -> None:
    row = page.locator(f'tr.breaker[data-venue-api="{venue_api}"]')
    row.locator('input[name="reason"]').fill(reason)
    row.locator(f'button[value="{action}"]').click()


def test_a_forced_open_breaker_makes_the_api_refuse_that_venue_until_reset(
    page: Page, live_server, admin_user, client_api, fresh_reliability
):
    _log_in(page, live_server, admin_user)
    page.click("#breaker-board-link")
    _operate(page, "binance.usdm", "force_open", "e2e drill: venue maintenance")
    usdm = page.locator('tr.breaker[data-venue-api="binance.usdm"]')
    expect(usdm).to_have_attribute("data-state", "forced_open")

    refused = client_api.post("/orders", json=ORDER)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "venue_unavailable"
    failover = client_api.post("/orders", json={**ORDER, "failover": ["bitmex"]})
    assert failover.status_code == 202, failover.text  # BitMEX takes it before the first send
    spot = client_api.post("/orders", json={**ORDER, "symbol": "BTC/USDT", "quantity": "0.001"})
    assert spot.status_code == 202, spot.text  # another venue API of the same exchange

    page.goto(f"{live_server.url}/admin/dashboard/")
    expect(page.locator('tr.venue[data-venue-api="binance.usdm"]')).to_have_attribute(
        "data-state", "forced_open"
    )
    expect(page.locator("#operator-actions")).to_contain_text("e2e drill: venue maintenance")

    page.click("#breaker-board-link")
    _operate(page, "binance.usdm", "reset", "e2e drill over")
    expect(usdm).to_have_attribute("data-state", "closed")
    accepted = client_api.post("/orders", json=ORDER)
    assert accepted.status_code == 202, accepted.text

"""PATCH /api/v1/orders/{id}: amend quantity and/or price, If-Match carries the version."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order

pytestmark = pytest.mark.django_db


def patch(api, order, body, **headers):
    return api.patch(f"/api/v1/orders/{order.pk}", body, format="json", **headers)


def test_amend_moves_to_pending_amend_with_its_target(api, order_factory):
    order = order_factory(api.account, state="NEW")
    response = patch(api, order, {"price": "64000.0", "quantity": "0.020"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["state"] == "PENDING_AMEND"
    assert (data["amend_price"], data["amend_quantity"]) == ("64000", "0.02")
    assert (data["price"], data["quantity"]) == ("65000.5", "0.01")  # until the venue confirms
    assert data["version"] == 2 and response["ETag"] == '"2"'
    event = Order.objects.get(pk=order.pk).events.get(sequence=2)
    assert (event.from_state, event.to_state, event.actor) == ("NEW", "PENDING_AMEND", "api")


def test_a_stale_if_match_is_a_409_and_changes_nothing(api, order_factory):
    order = order_factory(api.account, state="NEW", version=3)
    response = patch(api, order, {"price": "64000.0"}, HTTP_IF_MATCH='"2"')
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_conflict"
    row = Order.objects.get(pk=order.pk)
    assert (row.state, row.version) == ("NEW", 3)


def test_weak_etags_and_no_if_match_are_accepted(api, order_factory):
    order = order_factory(api.account, state="NEW")
    assert patch(api, order, {"price": "64000.0"}, HTTP_IF_MATCH='W/"1"').status_code == 202
    other = order_factory(api.account, state="PARTIALLY_FILLED", filled_quantity=Decimal("0.004"))
    assert patch(api, other, {"price": "64000.0"}).status_code == 202


def test_a_malformed_if_match_is_a_400(api, order_factory):
    order = order_factory(api.account, state="NEW")
    response = patch(api, order, {"price": "64000.0"}, HTTP_IF_MATCH="abc")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["rule"] == "if_match"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({}, "amend_empty"),
        ({"price": "64000.05"}, "tick_size"),
        ({"quantity": "0.0015"}, "step_size"),
        ({"quantity": "0.003"}, "below_filled"),
        ({"quantity": "0.010", "price": "65000.5"}, "amend_unchanged"),
        ({"quantity": "0.001", "price": "65000.5"}, "min_notional"),
    ],
)
def test_amend_rules(api, order_factory, body, rule):
    order = order_factory(api.account, state="PARTIALLY_FILLED", filled_quantity=Decimal("0.004"))
    response = patch(api, order, body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["rule"] == rule


def test_quantity_equal_to_filled_is_allowed(api, order_factory):
    order = order_factory(
        api.account,
        state="PARTIALLY_FILLED",
        filled_quantity=Decimal("0.004"),
        quantity=Decimal("0.010"),
    )
    response = patch(api, order, {"quantity": "0.004"})
    assert response.status_code == 202, response.content
    assert response.json()["amend_quantity"] == "0.004"


def test_market_orders_cannot_be_amended(api, order_factory):
    order = order_factory(api.account, state="NEW", type="market", price=None, time_in_force=None)
    response = patch(api, order, {"quantity": "0.020"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["rule"] == "amend_market"


@pytest.mark.parametrize(
    "state", ["FILLED", "CANCELED", "PENDING_NEW", "PENDING_AMEND", "SUBMIT_UNKNOWN"]
)
def test_amending_in_a_state_without_the_edge_is_a_409(api, order_factory, state):
    order = order_factory(api.account, state=state)
    response = patch(api, order, {"price": "64000.0"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"


def test_money_must_be_strings(api, order_factory):
    order = order_factory(api.account, state="NEW")
    assert patch(api, order, {"price": 64000.0}).status_code == 400
    assert patch(api, order, {"px": "64000.0"}).status_code == 400

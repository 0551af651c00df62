"""The order endpoints over HTTP (Django test client, real PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db

BODY = {
    "exchange": "binance",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.010",
    "price": "65000.5",
    "time_in_force": "GTC",
    "failover": ["bitmex"],
}


def post(api, body=None, **headers):
    return api.post("/api/v1/orders", body if body is not None else BODY, format="json", **headers)


def test_create_accepts_the_design_body_and_answers_202_with_location(api, instruments):
    response = post(api)
    assert response.status_code == 202, response.content
    data = response.json()
    order = Order.objects.get(pk=data["id"])
    assert response["Location"].endswith(f"/api/v1/orders/{order.pk}")
    assert data["state"] == "PENDING_NEW"
    assert data["exchange"] == "binance" and data["venue_api"] == "binance.usdm"
    assert data["symbol"] == "BTC/USDT:USDT" and data["venue_symbol"] == "BTCUSDT"
    assert data["quantity"] == "0.01" and data["price"] == "65000.5"
    assert data["filled_quantity"] == "0" and data["average_price"] is None
    assert data["failover"] == ["bitmex"] and data["version"] == 1
    assert data["venue_order_id"] is None
    assert len(data["client_order_id"]) <= 36
    assert order.quantity == Decimal("0.010") and order.account == api.account
    event = OrderEvent.objects.get(order=order)
    assert (event.sequence, event.from_state, event.to_state, event.actor) == (
        1,
        None,
        "PENDING_NEW",
        "api",
    )
    for key in ("id", "client_order_id", "state", "created_at", "updated_at"):
        assert key in data


def test_client_order_ids_are_unique_and_venue_safe(api, instruments):
    import re

    ids = {post(api).json()["client_order_id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,36}", cid) for cid in ids)


def test_money_as_json_numbers_is_refused(api, instruments):
    response = post(api, {**BODY, "quantity": 0.01})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "quantity" in error["details"] and "string" in error["message"]
    assert post(api, {**BODY, "price": 65000.5}).status_code == 400
    assert not Order.objects.exists()


def test_unknown_fields_are_refused(api, instruments):
    response = post(api, {**BODY, "qty": "1"})
    assert response.status_code == 400
    assert "qty" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"price": "65000.55"}, "price", "tick_size"),
        ({"quantity": "0.0105"}, "quantity", "step_size"),
        ({"quantity": "0.000005", "symbol": "BTC/USDT", "failover": []}, "quantity", "step_size"),
        (
            {"symbol": "BTC/USDT", "quantity": "0.00001", "price": "65000.01"},
            "quantity",
            "min_notional",
        ),
        ({"quantity": "0.001", "price": "50000"}, "quantity", "min_notional"),
        ({"quantity": "2000"}, "quantity", "max_qty"),
        ({"price": None}, "price", "price_required"),
        ({"type": "market", "time_in_force": None}, "price", "price_forbidden"),
        ({"type": "market", "price": None}, "time_in_force", "tif_forbidden_for_market"),
        ({"symbol": "DOGE/USDT:USDT"}, "symbol", "unknown_symbol"),
        ({"symbol": "BTC/USD:BTC", "quantity": "0.5", "failover": []}, "quantity", "step_size"),
        ({"failover": ["binance"]}, "failover", "failover"),
    ],
)
def test_each_venue_rule_is_named_in_the_error(api, instruments, change, field, rule):
    response = post(api, {**BODY, **change})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["details"].get("rule") == rule, error
    assert field in error["details"]
    assert error["message"].startswith(f"{field}:")


def test_a_too_precise_decimal_is_refused(api, instruments):
    response = post(api, {**BODY, "price": "65000.1234567890123456789"})
    assert response.status_code == 400
    assert "decimal places" in response.json()["error"]["message"]


def test_an_inactive_instrument_is_refused(api, instruments):
    instruments["binance.usdm:BTCUSDT"].__class__.objects.filter(venue_api="binance.usdm").update(
        active=False
    )
    response = post(api, {**BODY, "failover": []})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["rule"] == "instrument_inactive"


def test_market_orders_need_no_price(api, instruments):
    body = {**BODY, "type": "market", "price": None, "time_in_force": None}
    response = post(api, body)
    assert response.status_code == 202, response.content
    assert response.json()["price"] is None and response.json()["time_in_force"] is None


def test_inverse_min_notional_uses_contract_size(api, instruments):
    body = {
        **BODY,
        "exchange": "bitmex",
        "symbol": "BTC/USD:BTC",
        "quantity": "100",
        "price": "65000.5",
        "failover": [],
    }
    assert post(api, body).status_code == 202
    body = {**body, "exchange": "binance", "quantity": "1", "price": "65000.1"}
    response = post(api, body)
    assert response.status_code == 202, response.content
    assert response.json()["venue_api"] == "binance.coinm"


def test_get_returns_the_order_with_its_version_as_etag(api, instruments):
    created = post(api).json()
    response = api.get(f"/api/v1/orders/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response["ETag"] == '"1"'


def test_cancel_moves_to_pending_cancel_and_is_idempotent(api, instruments):
    created = post(api).json()
    first = api.post(f"/api/v1/orders/{created['id']}/cancel")
    assert first.status_code == 202
    assert first.json()["state"] == "PENDING_CANCEL"
    assert first.json()["cancel_requested_at"] is not None
    again = api.post(f"/api/v1/orders/{created['id']}/cancel")
    assert again.status_code == 202 and again.json() == first.json()
    assert OrderEvent.objects.filter(order_id=created["id"]).count() == 2


def test_cancelling_a_filled_order_is_a_409(api, order_factory):
    order = order_factory(api.account, state="FILLED")
    response = api.post(f"/api/v1/orders/{order.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    assert response.json()["error"]["details"]["state"] == "FILLED"


def test_events_list_the_history_in_order(api, instruments):
    created = post(api).json()
    api.post(f"/api/v1/orders/{created['id']}/cancel")
    response = api.get(f"/api/v1/orders/{created['id']}/events")
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert [(e["sequence"], e["from_state"], e["to_state"]) for e in body["results"]] == [
        (1, None, "PENDING_NEW"),
        (2, "PENDING_NEW", "PENDING_CANCEL"),
    ]
    assert body["results"][0]["actor"] == "api"


def test_events_are_paginated(api, order_factory):
    order = order_factory(api.account, state="NEW")
    from orders import lifecycle

    for i in range(5):
        lifecycle.note(order, actor="operator", reason=f"note {i}")
    first = api.get(f"/api/v1/orders/{order.pk}/events?limit=4").json()
    assert [e["sequence"] for e in first["results"]] == [1, 2, 3, 4]
    second = api.get(first["next"]).json()
    assert [e["sequence"] for e in second["results"]] == [5, 6]
    assert second["next"] is None


def test_idempotency_key_replays_the_original_order(api, instruments):
    first = post(api, HTTP_IDEMPOTENCY_KEY="k-1")
    second = post(api, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_idempotency_key_with_another_body_is_a_422(api, instruments):
    post(api, HTTP_IDEMPOTENCY_KEY="k-2")
    response = post(api, {**BODY, "quantity": "0.020"}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_idempotency_keys_are_per_account(api, other_api, instruments):
    a = post(api, HTTP_IDEMPOTENCY_KEY="shared")
    b = post(other_api, HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


def test_an_unprintable_idempotency_key_is_refused(api, instruments):
    assert post(api, HTTP_IDEMPOTENCY_KEY="x" * 256).status_code == 400


def test_a_read_only_key_cannot_place_orders(make_key, instruments):
    from rest_framework.test import APIClient

    _key, raw = make_key(account="reader", scopes=("read",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post("/api/v1/orders", BODY, format="json").status_code == 403
    assert client.get("/api/v1/orders").status_code == 200


def test_every_order_endpoint_hides_other_accounts_orders(api, other_api, order_factory):
    theirs = order_factory(other_api.account, state="NEW")
    base = f"/api/v1/orders/{theirs.pk}"
    assert api.get(base).status_code == 404
    assert api.patch(base, {"price": "65001.0"}, format="json").status_code == 404
    assert api.post(f"{base}/cancel").status_code == 404
    assert api.get(f"{base}/events").status_code == 404
    assert api.get("/api/v1/orders").json()["results"] == []
    assert api.get(f"/api/v1/orders?ids={theirs.pk}").json()["results"] == []
    assert api.get("/api/v1/orders/active").json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.state == "NEW" and theirs.version == 1
    assert other_api.get(base).status_code == 200


def test_unauthenticated_requests_are_refused(client, order_factory, account):
    order = order_factory(account, state="NEW")
    for path in (
        "/api/v1/orders",
        f"/api/v1/orders/{order.pk}",
        "/api/v1/orders/active",
        "/api/v1/instruments",
    ):
        assert client.get(path).status_code in (401, 403), path


def test_decimal_strings_round_trip_without_float_noise(api, instruments):
    body = {**BODY, "symbol": "SOL/USDT", "quantity": "123.457", "price": "150.13", "failover": []}
    data = post(api, body).json()
    assert (data["quantity"], data["price"]) == ("123.457", "150.13")
    assert json.dumps(data)  # plain JSON, no Decimal objects

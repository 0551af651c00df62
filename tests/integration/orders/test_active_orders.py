"""GET /api/v1/orders/active: cached per account, dropped on every transition, and served
from PostgreSQL while Redis is down."""

from __future__ import annotations

import pytest

from orders import lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def active(api) -> dict:
    response = api.get("/api/v1/orders/active")
    assert response.status_code == 200, response.content
    return response.json()


def test_it_lists_only_active_orders_newest_first(api, order_factory):
    new = order_factory(api.account, state="NEW")
    pending = order_factory(api.account, state="PENDING_CANCEL")
    order_factory(api.account, state="FILLED")
    order_factory(api.account, state="CANCELED")
    body = active(api)
    assert [o["id"] for o in body["results"]] == [pending.pk, new.pk]
    assert body["next"] is None and body["truncated"] is False


def test_the_second_read_comes_from_the_cache(api, order_factory):
    order_factory(api.account, state="NEW")
    first = active(api)
    second = active(api)
    assert first["source"] == "database"
    assert second["source"] == "cache"
    assert second["as_of"] == first["as_of"]
    assert second["results"] == first["results"]


def test_every_transition_invalidates_the_accounts_cache(api, order_factory):
    order = order_factory(api.account, state="NEW")
    active(api)
    assert active(api)["source"] == "cache"
    lifecycle.transition(order, "FILLED", actor="worker", reason="filled")
    body = active(api)
    assert body["source"] == "database"
    assert body["results"] == []


def test_a_cancel_through_the_api_shows_at_once(api, order_factory, broker):
    order = order_factory(api.account, state="NEW")
    assert active(api)["results"][0]["state"] == "NEW"
    assert api.post(f"/api/v1/orders/{order.pk}/cancel").status_code == 202
    body = active(api)
    assert body["source"] == "database"
    assert body["results"][0]["state"] == "PENDING_CANCEL"


def test_caches_are_per_account(api, other_api, order_factory):
    mine = order_factory(api.account, state="NEW")
    theirs = order_factory(other_api.account, state="NEW")
    active(api)
    active(other_api)
    lifecycle.transition(theirs, "CANCELED", actor="worker", reason="x")
    mine_again = active(api)
    assert mine_again["source"] == "cache"  # another account's change leaves mine cached
    assert [o["id"] for o in mine_again["results"]] == [mine.pk]
    assert active(other_api)["results"] == []


def test_with_redis_down_it_is_served_from_postgresql(api, order_factory, redis_server):
    order = order_factory(api.account, state="NEW")
    active(api)
    redis_server.stop()
    body = active(api)
    assert body["source"] == "database"
    assert [o["id"] for o in body["results"]] == [order.pk]
    # writes keep working too; the transition commits although the cache cannot be told
    lifecycle.transition(order, "FILLED", actor="worker", reason="filled while redis is down")
    assert active(api)["results"] == []
    redis_server.start()
    body = active(api)
    assert body["source"] == "database" and body["results"] == []


def test_orders_are_accepted_while_the_broker_is_down(api, instruments, redis_server):
    redis_server.stop()
    body = {
        "exchange": "binance",
        "symbol": "BTC/USDT:USDT",
        "side": "buy",
        "type": "limit",
        "quantity": "0.010",
        "price": "65000.5",
    }
    response = api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "PENDING_NEW"

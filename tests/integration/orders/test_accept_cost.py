"""What one accepted order costs the web process: SQL statements and Redis round trips.

POST /api/v1/orders is the platform's hottest write. These pin its round trips so a change that
adds one (a lookup before the INSERT, an uncached instrument read, an extra publish) fails here
rather than on the benchmark, and check that the shortcuts keep idempotency intact.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import instrument_cache
from orders.models import Instrument, Order, OrderEvent
from tests.fixtures.redis_trips import RoundTrips

pytestmark = pytest.mark.django_db

BODY = {
    "exchange": "binance",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.010",
    "price": "65000.5",
    "time_in_force": "GTC",
}


def post(api, key: str, body=None):
    return api.post("/api/v1/orders", body or BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _statements(captured) -> list[str]:
    """The SQL sent, without the savepoints the test's own transaction adds around atomic()."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_it_accepts_an_order_with_one_statement_and_three_redis_round_trips(
    api, instruments, monkeypatch, django_capture_on_commit_callbacks, fake_clock
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(api, "warm-up").status_code == 202  # key cached, script loaded, instrument read
    trips = RoundTrips(monkeypatch)

    with (
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True) as hooks,
    ):
        response = post(api, "measured")

    assert response.status_code == 202, response.content
    statements = _statements(captured)
    # the order and its first event: one statement (its own transaction outside a test)
    (statement,) = statements
    assert statement.startswith('WITH o AS (INSERT INTO "orders_order" '), statement
    assert ') INSERT INTO "orders_orderevent" ' in statement, statement
    # after commit: the active-orders generation, the submit task, the accepted counter
    assert len(hooks) == 3
    # the key from the cache and the throttle in one script, then (after commit) the active-orders
    # generation and the submit task (no task-sent event); the breaker was seen closed on Redis
    # by the warm-up less than BREAKER_CACHE_SECONDS ago (the clock stands still here)
    assert trips.commands() == ["EVALSHA", "SET", "LPUSH"], trips.commands()


def _cache_seconds() -> float:
    from django.conf import settings

    return settings.RELIABILITY_BREAKERS["binance.usdm"].cache_seconds


def test_the_breaker_is_read_from_redis_again_once_its_view_is_cache_seconds_old(
    api, instruments, monkeypatch, fake_clock, django_capture_on_commit_callbacks
):
    assert post(api, "seen").status_code == 202
    fake_clock.advance(_cache_seconds() * 1.01)
    trips = RoundTrips(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        assert post(api, "stale-view").status_code == 202
    assert trips.commands() == ["EVALSHA", "EVALSHA", "SET", "LPUSH"], trips.commands()


def test_a_breaker_opened_by_another_process_refuses_orders_within_cache_seconds(
    api, instruments, fake_clock
):
    from reliability.breaker import Breaker

    assert post(api, "before").status_code == 202  # this process saw the breaker closed
    Breaker("binance.usdm").force_open(by="test", reason="another process")  # not this view

    # within the bound the call path has too, this process still goes by its view
    assert post(api, "within-bound").status_code == 202
    fake_clock.advance(_cache_seconds() * 1.01)
    refused = post(api, "after-bound")

    assert refused.status_code == 503, refused.content
    assert refused.json()["error"]["code"] == "venue_unavailable"


def test_a_repeat_costs_a_failed_insert_and_one_lookup_and_answers_the_original(api, instruments):
    first = post(api, "again")
    with CaptureQueriesContext(connection) as captured:
        second = post(api, "again")

    assert second.status_code == 202 and second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    verbs = [s.split()[0] for s in _statements(captured) if not s.startswith("ROLLBACK")]
    assert verbs == ["WITH", "SELECT"], _statements(captured)
    assert Order.objects.count() == 1 and OrderEvent.objects.count() == 1


def test_a_repeat_answers_the_original_after_its_instrument_was_delisted(api, instruments):
    first = post(api, "before-delisting")
    Instrument.objects.filter(venue="binance", symbol=BODY["symbol"]).update(active=False)
    instrument_cache.forget_instruments()

    again = post(api, "before-delisting")
    fresh = post(api, "after-delisting")

    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert fresh.status_code == 400
    assert fresh.json()["error"]["details"]["rule"] == "instrument_inactive"


def test_a_repeat_answers_the_original_while_the_venue_is_unavailable(
    api, instruments, fresh_reliability
):
    from reliability.breaker import breaker_for

    first = post(api, "before-outage")
    breaker_for("binance.usdm").force_open(by="test", reason="outage")

    again = post(api, "before-outage")
    fresh = post(api, "during-outage")

    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert fresh.status_code == 503
    assert fresh.json()["error"]["code"] == "venue_unavailable"


def test_a_repeat_with_another_invalid_body_is_still_a_422(api, instruments):
    post(api, "reused")
    response = post(api, "reused", {**BODY, "price": "65000.55"})  # breaks the tick size too

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"

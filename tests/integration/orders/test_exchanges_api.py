"""GET /api/v1/exchanges: each venue API's breaker (live) and health, for clients and the demo."""

from __future__ import annotations

import pytest

from monitoring import health
from reliability.breaker import breaker_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/exchanges"


def _by_api(response) -> dict[str, dict]:
    assert response.status_code == 200, response.content
    return {row["venue_api"]: row for row in response.json()["results"]}


def test_it_lists_every_venue_api_accepting_orders_when_all_is_well(api, settings):
    rows = _by_api(api.get(URL))
    assert list(rows) == list(settings.VENUE_APIS)
    usdm = rows["binance.usdm"]
    assert usdm["exchange"] == "binance" and usdm["accepting_orders"] is True
    assert usdm["breaker"]["state"] == "closed" and usdm["breaker"]["retry_at"] is None
    # The venue probe (exchanges/health.py) is registered; the test stage has no venue keys.
    assert usdm["health"]["status"] == "down"
    assert usdm["health"]["error"] == "no API credentials configured"


def test_a_forced_open_breaker_shows_as_not_accepting_orders(api, fresh_reliability):
    breaker_for("bitmex").force_open(by="alice", reason="maintenance")
    rows = _by_api(api.get(URL))
    assert rows["bitmex"]["accepting_orders"] is False
    assert rows["bitmex"]["breaker"]["state"] == "forced_open"
    assert rows["bitmex"]["breaker"]["reason"] == "maintenance"
    assert rows["binance.spot"]["accepting_orders"] is True


def test_it_reports_the_registered_venue_health_check(api):
    health.register_check("binance.spot", lambda: {"ok": True, "latency_ms": 3.5}, kind="venue")
    health.clear_cache()
    try:
        rows = _by_api(api.get(URL))
    finally:
        health.unregister_check("binance.spot")
        health.clear_cache()
    assert rows["binance.spot"]["health"]["status"] == "ok"
    assert rows["binance.spot"]["health"]["latency_ms"] == 3.5


def test_it_needs_an_api_key(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")


def test_the_schema_documents_it(client):
    schema = client.get("/api/schema/?format=json").json()
    get = schema["paths"]["/api/v1/exchanges"]["get"]
    assert set(get["responses"]) >= {"200", "401"}
    item = schema["components"]["schemas"]["VenueApiStatus"]["properties"]
    assert {"venue_api", "accepting_orders", "breaker", "health"} <= set(item)

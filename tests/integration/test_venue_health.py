"""Per venue API health (exchanges/health.py) against the emulator over real HTTP: reachability
and latency, breaker, rate budget, last answered call; down when unreachable, refused by its
breaker, or not configured."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from exchanges import health as venue_health
from monitoring import health

pytestmark = pytest.mark.django_db


def _get(venue_api: str):
    response = Client().get(f"/health/exchanges/{venue_api}")
    return response.status_code, response.json()


def test_every_venue_api_has_a_check():
    names = {check.name for check in health.registered_checks("venue")}
    assert names == {"binance.spot", "binance.usdm", "binance.coinm", "bitmex"}


def test_a_reachable_venue_reports_latency_breaker_budget_and_last_answer(
    emulator, fresh_reliability
):
    status, body = _get("binance.spot")
    assert status == 200, body
    assert body["status"] == "ok" and body["reachable"] is True
    assert body["ping_ms"] >= 0
    assert body["breaker"]["state"] == "closed" and body["breaker"]["allows_calls"] is True
    assert body["rate_budget"]["ban_seconds"] == 0 and body["rate_budget"]["budgets"]
    assert body["last_success_at"] is not None  # the ping itself was answered

    status, body = _get("bitmex")
    assert (status, body["status"]) == (200, "ok")


@override_settings(HEALTH_CHECK_TIMEOUT_SECONDS=1.0)
@pytest.mark.django_db(transaction=True)  # the health pool thread stores the breaker's event
def test_an_unreachable_venue_is_down_and_the_aggregate_degraded(emulator, fresh_reliability):
    from reliability.breaker import breaker_for

    emulator.outage("bitmex", 30)
    try:
        status, body = _get("bitmex")
        aggregate = Client().get("/health/")
        health._INFLIGHT["bitmex"].result(timeout=30)  # the check may outlive its timeout
    finally:
        emulator.end_outage("bitmex")
    # The failed health ping was confirmed (reliability/detection.py): the breaker is open.
    assert breaker_for("bitmex").snapshot()["last_trigger"] == "failures"
    assert (status, body["status"]) == (503, "down")
    assert aggregate.status_code == 200
    assert aggregate.json()["status"] == "degraded"
    assert aggregate.json()["venues"]["binance.usdm"]["status"] == "ok"


def test_a_venue_whose_breaker_refuses_calls_is_down_without_a_probe(emulator, fresh_reliability):
    from reliability.breaker import breaker_for

    breaker_for("binance.usdm").force_open(by="ops", reason="drill")
    status, body = _get("binance.usdm")
    assert (status, body["status"]) == (503, "down")
    assert body["reachable"] is False and "ping_ms" not in body
    assert body["error"] == "circuit breaker forced_open"
    assert body["breaker"]["state"] == "forced_open"


def test_a_venue_without_credentials_is_down_and_never_probed(settings, fresh_reliability):
    settings.BITMEX_API_KEY = ""
    status, body = _get("bitmex")
    assert (status, body["status"], body["configured"]) == (503, "down", False)
    assert body["error"] == "no API credentials configured"


def test_the_last_answer_is_written_at_most_once_a_second_per_process():
    venue_health._last_written.clear()
    venue_health.note_answered("bitmex", now=1000.0)
    venue_health.note_answered("bitmex", now=1000.5)
    assert venue_health.last_answered_at("bitmex") == 1000.0
    venue_health.note_answered("bitmex", now=1001.5)
    assert venue_health.last_answered_at("bitmex") == 1001.5


def test_writing_the_last_answer_survives_redis_being_down(redis_server):
    venue_health._last_written.clear()
    redis_server.stop()
    venue_health.note_answered("binance.coinm")  # must not raise

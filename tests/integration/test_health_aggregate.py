"""/health/ and /health/exchanges/<venue>: the registry, the 200/503 semantics, each dependency
stopped for real, and the cache that keeps probes off the venues."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import Client, override_settings

from monitoring import health
from monitoring.heartbeats import write_beat_heartbeat, write_worker_heartbeat
from tests.fixtures.processes import ROOT
from tests.fixtures.services import script_result

pytestmark = pytest.mark.django_db


class Probe:
    """A venue check registered the way the adapters register theirs; counts its calls."""

    def __init__(self, result=None, *, raises=None, sleep=0.0):
        self.result = result if result is not None else {"ok": True}
        self.raises = raises
        self.sleep = sleep
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.raises:
            raise self.raises
        return dict(self.result)


@pytest.fixture
def venues():
    """Only the venue checks the test registers: register(name, probe) adds one (the apps'
    own, one per venue API from exchanges, are dropped for the test)."""
    for check in health.registered_checks("venue"):
        health.unregister_check(check.name)

    def register(name, probe, **kwargs):
        health.register_check(name, probe, kind="venue", **kwargs)
        return probe

    health.clear_cache()
    yield register
    health.clear_cache()  # the registry itself is restored by tests/fixtures/health.py


@pytest.fixture
def processes_alive():
    """Heartbeats as a running worker (every queue) and beat write them."""
    write_worker_heartbeat("worker-all@test", list(settings.CELERY_TASK_QUEUES_NAMES))
    write_beat_heartbeat()


def _get(path="/health/"):
    response = Client().get(path)
    return response.status_code, response.json()


def test_it_is_ok_when_every_dependency_and_venue_is_up(venues, processes_alive):
    venues("binance.spot", Probe({"ok": True, "breaker": "closed", "last_success_at": 1.0}))
    status, body = _get()
    assert status == 200
    assert body["status"] == "ok", body
    assert set(body["checks"]) >= {"postgresql", "redis", "celery_workers", "beat"}
    spot = body["venues"]["binance.spot"]
    assert spot["status"] == "ok" and spot["breaker"] == "closed" and spot["last_success_at"] == 1.0
    assert spot["latency_ms"] >= 0 and spot["kind"] == "venue"


def test_one_venue_down_is_degraded_not_unavailable(venues, processes_alive):
    venues("binance.spot", Probe({"ok": True}))
    venues("bitmex", Probe({"ok": False, "error": "connect refused", "breaker": "open"}))
    status, body = _get()
    assert status == 200
    assert body["status"] == "degraded"
    assert body["venues"]["bitmex"]["status"] == "down"
    assert body["venues"]["bitmex"]["error"] == "connect refused"
    assert body["venues"]["binance.spot"]["status"] == "ok"


def test_a_check_may_report_itself_degraded(venues, processes_alive):
    venues("binance.usdm", Probe({"ok": True, "status": "degraded", "breaker": "half_open"}))
    status, body = _get()
    assert (status, body["status"]) == (200, "degraded")
    assert body["venues"]["binance.usdm"]["ok"] is True


def test_a_check_that_raises_is_down_with_its_error(venues, processes_alive):
    venues("binance.coinm", Probe(raises=RuntimeError("adapter exploded")))
    status, body = _get()
    assert status == 200
    assert body["venues"]["binance.coinm"]["status"] == "down"
    assert "adapter exploded" in body["venues"]["binance.coinm"]["error"]


@override_settings(HEALTH_CHECK_TIMEOUT_SECONDS=0.3)
def test_a_check_that_hangs_is_down_and_does_not_hang_the_endpoint(venues, processes_alive):
    venues("bitmex", Probe(sleep=2.0))
    started = time.monotonic()
    status, body = _get()
    assert time.monotonic() - started < 1.5
    assert status == 200
    assert body["venues"]["bitmex"]["status"] == "down"
    assert "timed out" in body["venues"]["bitmex"]["error"]


def test_a_critical_registered_check_down_makes_it_503(venues, processes_alive):
    health.register_check("ledger", Probe({"ok": False}), critical=True)
    try:
        status, body = _get()
    finally:
        health.unregister_check("ledger")
    assert (status, body["status"]) == (503, "down")


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        health.register_check("x", lambda: {"ok": True}, kind="database")
    with pytest.raises(TypeError):
        health.register_check("x", "not callable")


def test_without_worker_and_beat_heartbeats_they_are_down_and_it_is_degraded():
    status, body = _get()
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["celery_workers"]["error"] == "no Celery worker heartbeat"
    assert body["checks"]["beat"]["error"] == "no beat heartbeat yet"


def test_a_stale_beat_heartbeat_is_down_with_its_age(processes_alive):
    write_beat_heartbeat(now=time.time() - 10 * settings.BEAT_HEARTBEAT_SECONDS)
    _, body = _get()
    beat = body["checks"]["beat"]
    assert beat["status"] == "down"
    assert beat["age_seconds"] >= 9 * settings.BEAT_HEARTBEAT_SECONDS


def test_a_queue_without_a_worker_is_degraded():
    write_worker_heartbeat("worker-default@test", ["default"])
    write_beat_heartbeat()
    _, body = _get()
    workers = body["checks"]["celery_workers"]
    assert workers["status"] == "degraded"
    assert workers["queues_without_worker"] == [
        "binance.coinm",
        "binance.spot",
        "binance.usdm",
        "bitmex",
    ]
    assert "worker-default@test" in workers["workers"]


def test_a_worker_whose_heartbeat_is_old_counts_as_gone():
    stale = time.time() - 10 * settings.WORKER_HEARTBEAT_SECONDS
    write_worker_heartbeat("worker-old@test", list(settings.CELERY_TASK_QUEUES_NAMES), now=stale)
    _, body = _get()
    assert body["checks"]["celery_workers"]["status"] == "down"


def test_redis_stopped_is_degraded_and_still_answers(venues, processes_alive, redis_server):
    probe = venues("binance.spot", Probe({"ok": True}))
    redis_server.stop()
    status, body = _get()
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["postgresql"]["status"] == "ok"
    assert body["checks"]["celery_workers"]["status"] == "down"
    assert body["checks"]["beat"]["status"] == "down"
    # The shared cache is gone with Redis; the per-process cache still keeps probes off venues.
    _get()
    assert probe.calls == 1


def test_postgresql_unreachable_is_503():
    """A real process whose DATABASE_URL points at a closed port."""
    script = (
        "import django, json, sys; django.setup(); from django.test import Client; "
        "r = Client().get('/health/'); sys.stdout.write('RESULT ' + json.dumps([r.status_code, r.json()]) + chr(10))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://app@127.0.0.1:1/trading",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status, body = script_result(result.stdout)
    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["postgresql"]["status"] == "down"
    assert body["checks"]["postgresql"]["critical"] is True
    assert body["checks"]["redis"]["status"] == "ok"


# --- the cache --------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_it_reuses_a_result_within_the_cache_period_and_runs_again_after(venues):
    probe = venues("binance.spot", Probe({"ok": True}))
    clock = Clock()
    first = health.aggregate(clock=clock)
    clock.now += settings.HEALTH_CACHE_SECONDS - 0.5
    second = health.aggregate(clock=clock)
    assert probe.calls == 1
    assert first["venues"]["binance.spot"]["cached"] is False
    assert second["venues"]["binance.spot"]["cached"] is True
    assert (
        second["venues"]["binance.spot"]["checked_at"]
        == first["venues"]["binance.spot"]["checked_at"]
    )

    clock.now += 1.0
    third = health.aggregate(clock=clock)
    assert probe.calls == 2
    assert third["venues"]["binance.spot"]["checked_at"] == clock.now


def test_many_probes_hit_a_venue_once_per_period(venues):
    probe = venues("bitmex", Probe({"ok": True}))
    client = Client()
    for _ in range(20):
        assert client.get("/health/").status_code == 200
        assert client.get("/health/exchanges/bitmex").status_code == 200
    assert probe.calls == 1


def test_venue_results_are_shared_between_processes_through_the_cache(venues):
    """Another web process (simulated by dropping this one's local cache) reuses the result."""
    probe = venues("bitmex", Probe({"ok": True}))
    clock = Clock()
    health.aggregate(clock=clock)
    health.clear_local_cache()
    health.aggregate(clock=clock)
    assert probe.calls == 1


# --- one venue --------------------------------------------------------------------------------


def test_exchange_endpoint_reports_one_venue(venues):
    venues("binance.spot", Probe({"ok": True, "rate_budget": {"weight_remaining": 5000}}))
    spot = venues("bitmex", Probe({"ok": False, "error": "HTTP 503"}))
    status, body = _get("/health/exchanges/binance.spot")
    assert status == 200
    assert body["venue"] == "binance.spot" and body["rate_budget"] == {"weight_remaining": 5000}
    assert spot.calls == 0  # only the venue asked for is probed

    status, body = _get("/health/exchanges/bitmex")
    assert (status, body["status"], body["error"]) == (503, "down", "HTTP 503")


def test_exchange_endpoint_404s_for_an_unregistered_venue():
    status, body = _get("/health/exchanges/kraken")
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_ready_stays_as_it_was():
    status, body = _get("/health/ready")
    assert status == 200
    assert body == {"status": "ok", "down": [], "checks": body["checks"]}


@override_settings(HEALTH_CHECK_TIMEOUT_SECONDS=0.2)
def test_a_hanging_check_is_never_started_twice(venues, processes_alive):
    probe = venues("bitmex", Probe(sleep=1.5))
    clock = Clock()
    for _ in range(3):
        assert health.aggregate(clock=clock)["venues"]["bitmex"]["status"] == "down"
        clock.now += 60  # past the cache: each round asks again
    assert probe.calls == 1  # the first probe was still running: waited on, not repeated

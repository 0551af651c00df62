"""/metrics: each metric monitoring owns moves when its event happens (scraped and parsed like
Prometheus does), histogram buckets are the documented 1 ms .. 30 s, labels stay low-cardinality."""

from __future__ import annotations

import os

import pytest
from django.test import Client
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from monitoring import metrics
from monitoring.tasks import beat_heartbeat
from monitoring.worker import child_exited, task_finished, task_revoked, task_started

pytestmark = pytest.mark.django_db

DOCUMENTED_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
FORBIDDEN_LABELS = {"symbol", "order_id", "client_order_id", "account", "api_key", "id", "user"}


def scrape() -> dict[tuple, float]:
    """{(sample name, ((label, value), ...)): value} from the web process's /metrics."""
    response = Client().get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_scrape_is_multiprocess():
    """make test sets PROMETHEUS_MULTIPROC_DIR, as production does: what /metrics shows is the
    sum of every process's files, not one process's memory."""
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    assert any(
        name.startswith("counter_") for name in os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    )


def test_the_beat_heartbeat_sets_its_gauge():
    beat_heartbeat()
    assert value(scrape(), "beat_heartbeat_timestamp_seconds") > 0


def test_task_signals_count_outcome_and_time():
    class Task:
        name = "tests.fake_task"

        class request:
            x_request_id = "abc-123"

    before = scrape()
    task_started(task_id="t-1", task=Task)
    task_finished(task_id="t-1", task=Task, state="FAILURE")
    # a worker Request: .task is the Task object, .task_name its name
    task_revoked(
        request=type("R", (), {"task": Task, "task_name": "tests.fake_task"})(), expired=True
    )
    after = scrape()
    assert (
        value(after, "celery_tasks_total", task="tests.fake_task", outcome="failure")
        - value(before, "celery_tasks_total", task="tests.fake_task", outcome="failure")
        == 1
    )
    assert (
        value(after, "celery_tasks_total", task="tests.fake_task", outcome="expired")
        - value(before, "celery_tasks_total", task="tests.fake_task", outcome="expired")
        == 1
    )
    assert (
        value(after, "celery_task_seconds_count", task="tests.fake_task")
        - value(before, "celery_task_seconds_count", task="tests.fake_task")
        == 1
    )


def test_django_prometheus_counts_requests_by_view():
    before = scrape()
    for _ in range(3):
        Client().get("/health/live")
    after = scrape()
    name = "django_http_requests_total_by_view_transport_method_total"
    labels = {"view": "health-live", "transport": "http", "method": "GET"}
    assert value(after, name, **labels) - value(before, name, **labels) == 3


def test_histogram_buckets_are_the_documented_1ms_to_30s():
    assert list(metrics.LATENCY_BUCKETS) == DOCUMENTED_BUCKETS
    metrics.VENUE_CALL_SECONDS.labels(venue="bitmex", operation="query").observe(0.0004)
    metrics.VENUE_CALL_SECONDS.labels(venue="bitmex", operation="query").observe(31.0)
    after = scrape()
    les = sorted(
        float(dict(labels)["le"])
        for (name, labels) in after
        if name == "venue_call_seconds_bucket"
        and dict(labels).get("operation") == "query"
        and dict(labels).get("venue") == "bitmex"
    )
    assert les == [*DOCUMENTED_BUCKETS, float("inf")]
    labels = {"venue": "bitmex", "operation": "query"}
    assert value(after, "venue_call_seconds_bucket", le="0.001", **labels) >= 1
    assert (
        value(after, "venue_call_seconds_bucket", le="+Inf", **labels)
        - value(after, "venue_call_seconds_bucket", le="30.0", **labels)
        >= 1
    )
    for name in ("order_end_to_end_seconds", "venue_call_seconds", "celery_task_seconds"):
        histogram = getattr(metrics, _attr_of(name))
        assert list(histogram._upper_bounds) == [*DOCUMENTED_BUCKETS, float("inf")]


def _attr_of(metric_name: str) -> str:
    for attr, obj in vars(metrics).items():
        if isinstance(obj, Counter | Gauge | Histogram) and obj._name == metric_name:
            return attr
    raise AssertionError(metric_name)


def test_every_catalogued_metric_has_low_cardinality_labels_and_a_gauge_mode():
    catalogue = [
        obj for obj in vars(metrics).values() if isinstance(obj, Counter | Gauge | Histogram)
    ]
    assert len(catalogue) >= 25
    for metric in catalogue:
        assert not FORBIDDEN_LABELS & set(metric._labelnames), metric._name
        if isinstance(metric, Gauge):
            assert metric._multiprocess_mode != "all", f"{metric._name}: choose a multiprocess_mode"


def test_a_dead_pool_childs_live_gauges_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    live = tmp_path / "gauge_livesum_4242.db"
    kept = tmp_path / "counter_4242.db"
    live.write_bytes(b"")
    kept.write_bytes(b"")
    child_exited(pid=4242)
    assert not live.exists()
    assert kept.exists()  # counters of a dead child still count


def test_queue_length_counts_the_messages_waiting_in_each_queue(redis_server):
    from monitoring.redis import broker_client

    broker_client().delete("default")
    for _ in range(2):
        beat_heartbeat.apply_async(queue="default")
    try:
        family = next(metrics.CeleryQueueLengthCollector().collect())
        lengths = {s.labels["queue"]: s.value for s in family.samples}
        assert lengths["default"] == 2 and lengths["bitmex"] == 0
    finally:
        broker_client().delete("default")
    redis_server.stop()
    assert next(metrics.CeleryQueueLengthCollector().collect()).samples == []

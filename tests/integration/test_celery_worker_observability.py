"""A real prefork Celery worker: the request's correlation id reaches the task and is bound in
every line it logs; task counts and durations are summed over the pool children on the
worker's own /metrics; the worker's heartbeat and beat's show in /health/."""

from __future__ import annotations

import httpx
import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from prometheus_client.parser import text_string_to_metric_families

from monitoring import correlation
from monitoring.middleware import CorrelationIdMiddleware
from monitoring.tasks import beat_heartbeat

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TASK = "monitoring.tasks.beat_heartbeat"


@pytest.fixture
def worker_env_extra():
    # Redis is flushed before each test: the module's worker writes its heartbeat back within 1 s.
    return {"WORKER_HEARTBEAT_SECONDS": "1"}


def _samples(text: str, name: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _queue_from_a_request(request_id: str) -> str:
    """The web side: the middleware binds X-Request-ID, the view queues a task."""

    def view(request):
        beat_heartbeat.apply_async(queue="default")
        return HttpResponse("queued")

    request = RequestFactory().get("/anything", HTTP_X_REQUEST_ID=request_id)
    response = CorrelationIdMiddleware(view)(request)
    assert correlation.current() is None  # unbound after the request
    return response["X-Request-ID"]


def test_it_carries_the_request_id_into_the_worker_and_binds_it_in_its_logs(worker):
    returned = _queue_from_a_request("req-observability-42")
    assert returned == "req-observability-42"

    line = worker.wait_for_log(
        lambda line: line.get("task") == TASK and "succeeded" in line.get("event", "")
    )
    assert line["correlation_id"] == "req-observability-42"
    assert line["task_id"]
    # Every line the task wrote carries it; nothing leaks into the next task.
    task_lines = [ln for ln in worker.log_lines() if ln.get("task_id") == line["task_id"]]
    assert task_lines and all(ln["correlation_id"] == "req-observability-42" for ln in task_lines)


def test_it_mints_an_id_for_a_task_queued_outside_any_request(worker):
    correlation.clear()
    beat_heartbeat.apply_async(queue="default")
    line = worker.wait_for_log(
        lambda line: line.get("task") == TASK and "succeeded" in line.get("event", "")
    )
    assert len(line["correlation_id"]) == 32


def test_it_counts_and_times_tasks_over_all_pool_children(worker):
    # The module's worker may have run this task for an earlier test: count from here.
    success = (("outcome", "success"), ("task", TASK))
    text = worker.metrics_text()
    before = _samples(text, "celery_tasks_total").get(success, 0)
    timed_before = _samples(text, "celery_task_seconds_count").get((("task", TASK),), 0)
    for _ in range(6):
        beat_heartbeat.apply_async(queue="default")

    def all_counted():
        counts = _samples(worker.metrics_text(), "celery_tasks_total")
        return counts.get(success, 0) - before == 6

    worker.wait_for(all_counted, what="6 successful tasks on the worker's /metrics")
    text = worker.metrics_text()
    durations = _samples(text, "celery_task_seconds_count")
    assert durations[(("task", TASK),)] - timed_before == 6
    assert _samples(text, "beat_heartbeat_timestamp_seconds")[()] > 0
    # Broker queue lengths are exported too (the queue is drained by now).
    assert _samples(text, "celery_queue_length")[(("queue", "default"),)] == 0


def test_the_worker_metrics_endpoint_answers_prometheus_text(worker):
    response = httpx.get(worker.metrics_url, timeout=5)
    assert response.status_code == 200
    assert "celery_queue_length" in response.text


# Last: it stops the module's worker.
def test_it_reports_the_worker_and_beat_in_health_and_the_worker_gone_after_it_stops(
    worker,
):
    beat_heartbeat.apply_async(queue="default")
    worker.wait_for_log(lambda line: line.get("task") == TASK and "succeeded" in line["event"])

    from monitoring import health

    def reported():
        # Redis is flushed before each test: the heartbeat is back within a second.
        health.clear_cache()
        body = Client().get("/health/").json()
        return (
            body if worker.hostname in body["checks"]["celery_workers"].get("workers", ()) else None
        )

    body = worker.wait_for(reported, timeout=30, what="the worker's heartbeat in /health/")
    assert body["checks"]["celery_workers"]["status"] == "ok", body
    assert body["checks"]["beat"]["status"] == "ok"

    worker.stop()
    health.clear_cache()
    workers = Client().get("/health/").json()["checks"]["celery_workers"]
    assert workers["status"] == "down"
    assert workers["error"] == "no Celery worker heartbeat"

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


def test_it_carries_the_request_id_into_the_worker_and_binds_it_in_its_logs(celery_worker):
    returned = _queue_from_a_request("req-observability-42")
    assert returned == "req-observability-42"

    line = celery_worker.wait_for_log(
        lambda line: line.get("task") == TASK and "succeeded" in line.get("event", "")
    )
    assert line["correlation_id"] == "req-observability-42"
    assert line["task_id"]
    # Every line the task wrote carries it; nothing leaks into the next task.
    task_lines = [ln for ln in celery_worker.log_lines() if ln.get("task_id") == line["task_id"]]
    assert task_lines and all(ln["correlation_id"] == "req-observability-42" for ln in task_lines)


def test_it_mints_an_id_for_a_task_queued_outside_any_request(celery_worker):
    correlation.clear()
    beat_heartbeat.apply_async(queue="default")
    line = celery_worker.wait_for_log(
        lambda line: line.get("task") == TASK and "succeeded" in line.get("event", "")
    )
    assert len(line["correlation_id"]) == 32


def test_it_counts_and_times_tasks_over_all_pool_children(celery_worker):
    for _ in range(6):
        beat_heartbeat.apply_async(queue="default")

    def all_counted():
        counts = _samples(celery_worker.metrics_text(), "celery_tasks_total")
        return counts.get((("outcome", "success"), ("task", TASK))) == 6

    celery_worker.wait_for(all_counted, what="6 successful tasks on the worker's /metrics")
    text = celery_worker.metrics_text()
    durations = _samples(text, "celery_task_seconds_count")
    assert durations[(("task", TASK),)] == 6
    assert _samples(text, "beat_heartbeat_timestamp_seconds")[()] > 0
    # Broker queue lengths are exported too (the queue is drained by now).
    assert _samples(text, "celery_queue_length")[(("queue", "default"),)] == 0


def test_it_reports_the_worker_and_beat_in_health_and_the_worker_gone_after_it_stops(
    celery_worker,
):
    beat_heartbeat.apply_async(queue="default")
    celery_worker.wait_for_log(
        lambda line: line.get("task") == TASK and "succeeded" in line["event"]
    )

    body = Client().get("/health/").json()
    workers = body["checks"]["celery_workers"]
    assert workers["status"] == "ok", workers
    assert celery_worker.hostname in workers["workers"]
    assert body["checks"]["beat"]["status"] == "ok"

    celery_worker.stop()
    from monitoring import health

    health.clear_cache()
    workers = Client().get("/health/").json()["checks"]["celery_workers"]
    assert workers["status"] == "down"
    assert workers["error"] == "no Celery worker heartbeat"


def test_the_worker_metrics_endpoint_answers_prometheus_text(celery_worker):
    response = httpx.get(celery_worker.metrics_url, timeout=5)
    assert response.status_code == 200
    assert "celery_queue_length" in response.text

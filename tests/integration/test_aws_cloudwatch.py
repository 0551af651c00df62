"""Metrics to CloudWatch (moto's server standing in for AWS): one snapshot, sent in batches by a
beat task off the request path; a CloudWatch outage never fails the task."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest
from django.conf import settings

from monitoring import cloudwatch, health
from monitoring.cloudwatch import Datum
from monitoring.heartbeats import write_beat_heartbeat, write_worker_heartbeat
from monitoring.tasks import publish_cloudwatch_metrics
from tests.fixtures.aws import ROOT, boto_client
from tests.fixtures.services import script_result

pytestmark = pytest.mark.django_db


def _metrics() -> dict[tuple, list[dict]]:
    """(name, ((dimension, value), ...)) -> the metric's datapoints over the last hour."""
    client = boto_client("cloudwatch")
    now = datetime.datetime.now(datetime.UTC)
    found = {}
    for page in client.get_paginator("list_metrics").paginate(
        Namespace=settings.CLOUDWATCH_NAMESPACE
    ):
        for metric in page["Metrics"]:
            dims = tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
            stats = client.get_metric_statistics(
                Namespace=settings.CLOUDWATCH_NAMESPACE,
                MetricName=metric["MetricName"],
                Dimensions=metric["Dimensions"],
                StartTime=now - datetime.timedelta(hours=1),
                EndTime=now + datetime.timedelta(minutes=5),
                Period=60,
                Statistics=["Maximum", "SampleCount"],
            )
            found[(metric["MetricName"], dims)] = stats["Datapoints"]
    return found


def test_it_sends_every_datum_in_batches(aws):
    client = boto_client("cloudwatch")
    calls = []
    client.meta.events.register(
        "before-call.cloudwatch.PutMetricData", lambda **kw: calls.append(1)
    )
    data = [Datum("TestGauge", i, "Count", {"Index": str(i)}) for i in range(45)]

    assert cloudwatch.publish(data, client=client) == 45

    assert len(calls) == 3  # 20 + 20 + 5
    found = _metrics()
    assert len(found) == 45
    points = found[("TestGauge", (("Index", "7"), ("Stage", settings.STAGE)))]
    assert points[0]["Maximum"] == 7.0


def test_the_snapshot_holds_health_workers_beat_queues_and_registered_sources():
    health.register_check("bitmex", lambda: {"ok": False, "error": "down"}, kind="venue")
    write_worker_heartbeat("w@test", list(settings.CELERY_TASK_QUEUES_NAMES))
    write_beat_heartbeat()

    def orders_source():
        return [Datum("OrdersOutcomeUnknownOpen", 2, "Count", {"Venue": "bitmex"})]

    def broken_source():
        raise RuntimeError("no")

    cloudwatch.register_source(orders_source)
    cloudwatch.register_source(broken_source)
    try:
        data = {(d.name, tuple(sorted(d.dimensions.items()))): d for d in cloudwatch.collect()}
    finally:
        cloudwatch.unregister_source(orders_source)
        cloudwatch.unregister_source(broken_source)
        health.unregister_check("bitmex")
    assert data[("HealthStatus", ())].value == cloudwatch.STATUS_VALUE["degraded"]
    assert data[("HealthCheckUp", (("Venue", "bitmex"),))].value == 0
    assert data[("HealthCheckUp", (("Check", "postgresql"),))].value == 1
    assert data[("HealthCheckLatency", (("Check", "redis"),))].unit == "Milliseconds"
    assert data[("CeleryWorkersLive", ())].value == 1
    assert data[("BeatHeartbeatAge", ())].value < 5
    assert data[("CeleryQueueLength", (("Queue", "default"),))].value >= 0
    assert data[("OrdersOutcomeUnknownOpen", (("Venue", "bitmex"),))].value == 2


def test_the_task_publishes_a_snapshot(aws):
    sent = publish_cloudwatch_metrics()
    assert sent > 5
    found = _metrics()
    assert ("HealthStatus", (("Stage", settings.STAGE),)) in found
    assert ("CeleryQueueLength", (("Queue", "bitmex"), ("Stage", settings.STAGE))) in found


def test_cloudwatch_unreachable_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "t"),
        ("AWS_SECRET_ACCESS_KEY", "t"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
    ):
        monkeypatch.setenv(name, value)
    assert cloudwatch.publish([Datum("X", 1)]) == 0


def test_beat_schedules_the_publisher_only_when_enabled():
    assert settings.CLOUDWATCH_METRICS_ENABLED is False  # the default, as in this test run
    assert "cloudwatch-metrics" not in settings.CELERY_BEAT_SCHEDULE
    script = (
        "import django, json, sys; django.setup(); from django.conf import settings; "
        "sys.stdout.write('RESULT ' + json.dumps(settings.CELERY_BEAT_SCHEDULE.get('cloudwatch-metrics')) + chr(10))"
    )
    env = {**os.environ, "CLOUDWATCH_METRICS_ENABLED": "true", "CLOUDWATCH_PUBLISH_SECONDS": "30"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    entry = script_result(result.stdout)
    assert entry["task"] == "monitoring.tasks.publish_cloudwatch_metrics"
    assert entry["schedule"] == 30.0 and entry["options"]["queue"] == "default"

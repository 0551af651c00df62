"""Platform metrics to CloudWatch: batched PutMetricData from a beat task, never on a request path.

Every CLOUDWATCH_PUBLISH_SECONDS beat queues monitoring.tasks.publish_cloudwatch_metrics; a
worker collects one snapshot and sends it in batches. The snapshot is what holds fleet-wide, not
one process's counters: the health aggregate (overall status, each check and venue API up or
down, its latency), live workers, seconds since the beat heartbeat, and each queue's length.
Other apps add their own gauges from AppConfig.ready() (monitoring imports none of them):

    from monitoring.cloudwatch import Datum, register_source
    register_source(lambda: [Datum("OrdersOutcomeUnknownOpen", n, dimensions={"Venue": v}) ...])

Namespace CLOUDWATCH_NAMESPACE, every datum carries the dimension Stage=<TRADING_STAGE>.
Credentials, region and endpoint come from boto3's chain (the task role on ECS).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from django.conf import settings

log = structlog.get_logger(__name__)

BATCH_SIZE = 20  # PutMetricData accepts more today; 20 works with every API version
STATUS_VALUE = {"ok": 0, "degraded": 1, "down": 2}


@dataclass(frozen=True)
class Datum:
    name: str
    value: float
    unit: str = "None"
    dimensions: dict[str, str] = field(default_factory=dict)


Source = Callable[[], list[Datum]]
_SOURCES: list[Source] = []


def register_source(fn: Source) -> None:
    if fn not in _SOURCES:
        _SOURCES.append(fn)


def unregister_source(fn: Source) -> None:
    if fn in _SOURCES:
        _SOURCES.remove(fn)


def health_datums(report: dict) -> list[Datum]:
    data = [Datum("HealthStatus", STATUS_VALUE[report["status"]])]
    for kind, dimension in (("checks", "Check"), ("venues", "Venue")):
        for name, result in report[kind].items():
            dims = {dimension: name}
            data.append(
                Datum("HealthCheckUp", 0 if result["status"] == "down" else 1, dimensions=dims)
            )
            data.append(
                Datum("HealthCheckLatency", result["latency_ms"], "Milliseconds", dimensions=dims)
            )
    workers = report["checks"].get("celery_workers", {}).get("workers")
    if workers is not None:
        data.append(Datum("CeleryWorkersLive", len(workers), "Count"))
    beat_age = report["checks"].get("beat", {}).get("age_seconds")
    if beat_age is not None:
        data.append(Datum("BeatHeartbeatAge", beat_age, "Seconds"))
    return data


def queue_datums() -> list[Datum]:
    from monitoring.redis import broker_client

    client = broker_client()
    return [
        Datum("CeleryQueueLength", client.llen(queue), "Count", dimensions={"Queue": queue})
        for queue in settings.CELERY_TASK_QUEUES_NAMES
    ]


def collect() -> list[Datum]:
    """One snapshot; a source that fails is logged and left out, never fails the rest."""
    from monitoring import health

    data = health_datums(health.aggregate())
    for source in [queue_datums, *_SOURCES]:
        try:
            data.extend(source())
        except Exception as exc:
            log.warning(
                "cloudwatch_source_failed", source=getattr(source, "__name__", "?"), error=str(exc)
            )
    return data


def _client():
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
    )
    return boto3.client("cloudwatch", config=config)


def _metric_data(data: list[Datum], now: datetime.datetime) -> list[dict]:
    stage = {"Name": "Stage", "Value": settings.STAGE}
    return [
        {
            "MetricName": datum.name,
            "Dimensions": [stage, *({"Name": k, "Value": v} for k, v in datum.dimensions.items())],
            "Timestamp": now,
            "Value": float(datum.value),
            "Unit": datum.unit,
        }
        for datum in data
    ]


def publish(data: list[Datum], *, client=None, now: float | None = None) -> int:
    """Sends `data` in batches; returns how many were accepted. Never raises: metrics are best
    effort, and a CloudWatch outage must not fail or retry-storm the worker."""
    stamp = datetime.datetime.fromtimestamp(now or time.time(), tz=datetime.UTC)
    metric_data = _metric_data(data, stamp)
    sent = 0
    try:
        client = client or _client()
        for start in range(0, len(metric_data), BATCH_SIZE):
            batch = metric_data[start : start + BATCH_SIZE]
            client.put_metric_data(Namespace=settings.CLOUDWATCH_NAMESPACE, MetricData=batch)
            sent += len(batch)
    except Exception as exc:
        log.warning("cloudwatch_publish_failed", sent=sent, total=len(metric_data), error=str(exc))
        return sent
    log.info("cloudwatch_published", datums=sent, namespace=settings.CLOUDWATCH_NAMESPACE)
    return sent

from __future__ import annotations

import time

from celery import shared_task

from monitoring import metrics
from monitoring.heartbeats import BEAT_KEY, write_beat_heartbeat

BEAT_HEARTBEAT_KEY = BEAT_KEY


@shared_task(name="monitoring.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Run by beat on a schedule; health reads the timestamp to tell if beat and a worker live."""
    now = time.time()
    write_beat_heartbeat(now=now)
    metrics.BEAT_HEARTBEAT_TIMESTAMP.set(now)


@shared_task(name="monitoring.tasks.publish_cloudwatch_metrics", ignore_result=True)
def publish_cloudwatch_metrics() -> int:
    """Run by beat every CLOUDWATCH_PUBLISH_SECONDS when CLOUDWATCH_METRICS_ENABLED."""
    from monitoring import cloudwatch

    return cloudwatch.publish(cloudwatch.collect())

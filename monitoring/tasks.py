from __future__ import annotations

import time

from celery import shared_task

from monitoring.redis import state_client

BEAT_HEARTBEAT_KEY = "heartbeat:beat"


@shared_task(name="monitoring.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Run by beat on a schedule; health reads the timestamp to tell if beat and a worker live."""
    state_client().set(BEAT_HEARTBEAT_KEY, f"{time.time():.3f}", ex=3600)

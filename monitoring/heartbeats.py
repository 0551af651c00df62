"""Liveness of the background processes, as Redis keys with a TTL.

- Each Celery worker's main process writes `heartbeat:worker:<hostname>` (its queues and the
  time) every WORKER_HEARTBEAT_SECONDS (monitoring/worker.py starts the thread).
- Beat queues monitoring.tasks.beat_heartbeat every BEAT_HEARTBEAT_SECONDS; a worker runs it and
  writes `heartbeat:beat`. A fresh key proves beat, the broker and a `default` worker all work.

Health reads these keys: a reading costs one Redis round trip and never loads the workers.
"""

from __future__ import annotations

import json
import time

from django.conf import settings

from monitoring.redis import state_client

BEAT_KEY = "heartbeat:beat"
WORKER_PREFIX = "heartbeat:worker:"
MISSED_BEATS = 3  # a heartbeat older than this many periods means the process is gone


def write_worker_heartbeat(hostname: str, queues: list[str], *, now: float | None = None) -> None:
    interval = settings.WORKER_HEARTBEAT_SECONDS
    payload = {"at": now if now is not None else time.time(), "queues": sorted(queues)}
    state_client().set(WORKER_PREFIX + hostname, json.dumps(payload), ex=interval * MISSED_BEATS)


def clear_worker_heartbeat(hostname: str) -> None:
    state_client().delete(WORKER_PREFIX + hostname)


def write_beat_heartbeat(*, now: float | None = None) -> None:
    stamp = now if now is not None else time.time()
    state_client().set(BEAT_KEY, f"{stamp:.3f}", ex=3600)


def live_workers(*, now: float | None = None) -> dict[str, dict]:
    """hostname -> {"at", "queues", "age_seconds"} for every worker with a fresh heartbeat."""
    now = now if now is not None else time.time()
    limit = settings.WORKER_HEARTBEAT_SECONDS * MISSED_BEATS
    client = state_client()
    keys = sorted(client.scan_iter(match=WORKER_PREFIX + "*", count=200))
    values = client.mget(keys) if keys else []
    workers = {}
    for key, raw in zip(keys, values, strict=True):
        if raw is None:
            continue
        info = json.loads(raw)
        age = now - float(info["at"])
        if age <= limit:
            workers[key[len(WORKER_PREFIX) :]] = {**info, "age_seconds": round(age, 3)}
    return workers


def check_celery_workers(*, now: float | None = None) -> dict:
    workers = live_workers(now=now)
    if not workers:
        return {"ok": False, "workers": {}, "error": "no Celery worker heartbeat"}
    covered = {queue for info in workers.values() for queue in info["queues"]}
    missing = sorted(set(settings.CELERY_TASK_QUEUES_NAMES) - covered)
    result = {"ok": True, "workers": workers, "queues_without_worker": missing}
    if missing:
        result.update(status="degraded", error=f"no worker consumes {', '.join(missing)}")
    return result


def check_beat(*, now: float | None = None) -> dict:
    now = now if now is not None else time.time()
    raw = state_client().get(BEAT_KEY)
    limit = settings.BEAT_HEARTBEAT_SECONDS * MISSED_BEATS
    if raw is None:
        return {"ok": False, "error": "no beat heartbeat yet"}
    age = round(now - float(raw), 3)
    if age > limit:
        return {"ok": False, "age_seconds": age, "error": f"last beat heartbeat {age:.0f} s ago"}
    return {"ok": True, "age_seconds": age}

"""Celery worker integration: correlation ids, task metrics, the metrics endpoint, heartbeats.

Connected by importing this module from trading/celery.py, so every worker and every process
that publishes tasks has the handlers. Order matters and is fixed here: the correlation id is
bound before a task runs, and unbound only after its metrics and log lines are written.

- Publishing: the current correlation id travels in the task message's headers.
- Child process (prefork): binds the id (or mints one) with the task's name and id, times the
  task, counts it by outcome (CELERY_TASKS, CELERY_TASK_SECONDS), and marks its metrics file
  dead at exit.
- Main process: serves /metrics for all its children on WORKER_METRICS_PORT (multiprocess
  collector over PROMETHEUS_MULTIPROC_DIR) and writes the worker heartbeat health reads.
"""

from __future__ import annotations

import os
import threading
import time

import structlog
from celery import signals

from monitoring import correlation, metrics

log = structlog.get_logger(__name__)

# Not "correlation_id": Celery already uses that name (the AMQP property, set to the task id).
HEADER = "x_request_id"
_started: dict[str, float] = {}


# --- correlation id: publish -> run ----------------------------------------------------------


@signals.before_task_publish.connect
def carry_correlation_id(headers=None, **_kwargs) -> None:
    """Every task carries the correlation id of the request (or task) that queued it."""
    cid = correlation.current()
    if headers is not None and cid and HEADER not in headers:
        headers[HEADER] = cid


@signals.task_prerun.connect
def task_started(task_id=None, task=None, **_kwargs) -> None:
    correlation.clear()
    cid = getattr(task.request, HEADER, None) if task is not None else None
    correlation.bind(correlation.sanitize(cid))
    if task is not None:
        structlog.contextvars.bind_contextvars(task=task.name, task_id=task_id)
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def task_finished(task_id=None, task=None, state=None, **_kwargs) -> None:
    try:
        name = task.name if task is not None else "unknown"
        started = _started.pop(task_id, None)
        metrics.CELERY_TASKS.labels(task=name, outcome=(state or "unknown").lower()).inc()
        if started is not None:
            metrics.CELERY_TASK_SECONDS.labels(task=name).observe(time.perf_counter() - started)
    finally:
        correlation.clear()


@signals.task_revoked.connect
def task_revoked(request=None, terminated=False, expired=False, **_kwargs) -> None:
    """Revoked or expired before (or while) running: counted, the task never reached postrun."""
    name = getattr(request, "task_name", None) or getattr(request, "name", None) or "unknown"
    outcome = "expired" if expired else "terminated" if terminated else "revoked"
    metrics.CELERY_TASKS.labels(task=name, outcome=outcome).inc()


# --- child processes -------------------------------------------------------------------------


@signals.worker_process_shutdown.connect
def child_exited(pid=None, **_kwargs) -> None:
    """Drop the live gauges of an exiting pool child (guarded: needs the multiprocess dir),
    and write its queued log lines (the child leaves through os._exit: no atexit)."""
    from monitoring.logging import flush

    flush(timeout=2.0)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


# --- main process: metrics endpoint and heartbeat ---------------------------------------------

_state: dict[str, object] = {}


def metrics_registry():
    """All pool children summed (multiprocess), plus the broker's queue lengths."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        log.warning("worker_metrics_single_process", reason="PROMETHEUS_MULTIPROC_DIR unset")
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(metrics.CeleryQueueLengthCollector())
    return registry


@signals.worker_init.connect
def start_metrics_server(**_kwargs) -> None:
    from django.conf import settings
    from prometheus_client import start_http_server

    port, bind = settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_BIND
    if not port:
        return
    try:
        server, _thread = start_http_server(port, addr=bind, registry=metrics_registry())
    except OSError as exc:  # the worker still works; `up == 0` for this target alerts
        log.error("worker_metrics_server_failed", port=port, bind=bind, error=str(exc))
        return
    _state["metrics_server"] = server
    log.info("worker_metrics_server_started", port=port, bind=bind)


@signals.worker_ready.connect
def start_heartbeat(sender=None, **_kwargs) -> None:
    from django.conf import settings

    from monitoring.heartbeats import write_worker_heartbeat

    hostname = getattr(sender, "hostname", None) or f"worker@{os.uname().nodename}"
    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                write_worker_heartbeat(hostname, queues)
            except Exception as exc:  # Redis down: health shows the worker gone, we keep trying
                log.warning("worker_heartbeat_failed", error=str(exc))
            stop.wait(settings.WORKER_HEARTBEAT_SECONDS)

    thread = threading.Thread(target=beat, name="worker-heartbeat", daemon=True)
    thread.start()
    _state.update(heartbeat_stop=stop, hostname=hostname)


@signals.worker_shutdown.connect
def stop_background(**_kwargs) -> None:
    from monitoring.heartbeats import clear_worker_heartbeat

    stop = _state.pop("heartbeat_stop", None)
    if stop is not None:
        stop.set()
        try:
            clear_worker_heartbeat(str(_state.pop("hostname")))
        except Exception as exc:  # shutting down anyway; the key expires by itself
            log.warning("worker_heartbeat_clear_failed", error=str(exc))
    server = _state.pop("metrics_server", None)
    if server is not None:
        server.shutdown()

"""The Celery app: Redis broker, JSON only, late acks, one queue per venue API."""

from __future__ import annotations

import os

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading.settings")

app = Celery("trading")
app.config_from_object("django.conf:settings", namespace="CELERY")


@signals.import_modules.connect
def _declare_queues(**_kwargs) -> None:
    from django.conf import settings

    app.conf.task_queues = [Queue(name) for name in settings.CELERY_TASK_QUEUES_NAMES]


app.autodiscover_tasks()


@signals.before_task_publish.connect
def _carry_correlation_id(headers=None, **_kwargs) -> None:
    """Every task carries the correlation id of the request (or task) that queued it."""
    from monitoring import correlation

    cid = correlation.current()
    if headers is not None and cid and "correlation_id" not in headers:
        headers["correlation_id"] = cid


@signals.task_prerun.connect
def _bind_correlation_id(task=None, **_kwargs) -> None:
    from monitoring import correlation

    correlation.clear()
    cid = getattr(task.request, "correlation_id", None) if task else None
    correlation.bind(cid or correlation.new_id())
    if task is not None:
        import structlog

        structlog.contextvars.bind_contextvars(task=task.name, task_id=task.request.id)


@signals.task_postrun.connect
def _unbind(**_kwargs) -> None:
    from monitoring import correlation

    correlation.clear()


@signals.setup_logging.connect
def _use_django_logging(**_kwargs) -> None:
    """Workers log through the same structlog/stdlib set-up as web (configured by settings)."""
    from django.conf import settings  # noqa: F401 - importing settings configures logging

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


@signals.worker_init.connect
def _worker_broker_transport(**_kwargs) -> None:
    """The worker survives Redis going away while it holds unacked messages (trading/broker.py)."""
    app.conf.broker_transport = "trading.broker:Transport"


app.autodiscover_tasks()


# Correlation ids, task metrics, the worker's metrics endpoint and heartbeat (monitoring owns them).
import monitoring.worker  # noqa: E402, F401
import trading.celery_db  # noqa: E402, F401 - database connections kept between tasks


@signals.setup_logging.connect
def _use_django_logging(**_kwargs) -> None:
    """Workers log through the same structlog/stdlib set-up as web (configured by settings)."""
    from django.conf import settings  # noqa: F401 - importing settings configures logging

"""The Celery app's configuration and the correlation id carried through task headers."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from monitoring import correlation
from monitoring.redis import state_client
from monitoring.tasks import BEAT_HEARTBEAT_KEY, beat_heartbeat
from monitoring.worker import HEADER, task_started
from trading.celery import app


def test_it_is_configured_for_at_least_once_json_delivery():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_it_declares_one_queue_per_venue_api_plus_default():
    app.loader.import_default_modules()
    names = {queue.name for queue in app.conf.task_queues}
    assert names == {"default", "binance.spot", "binance.usdm", "binance.coinm", "bitmex"}
    assert "beat-heartbeat" in settings.CELERY_BEAT_SCHEDULE


def test_a_queued_task_carries_the_current_correlation_id():
    broker = __import__("redis").Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("default")
    correlation.bind("req-1234")
    try:
        beat_heartbeat.apply_async(queue="default")
    finally:
        correlation.clear()
    raw = broker.lpop("default")
    assert raw is not None
    # Not the header "correlation_id": Celery overwrites that name with the task id on the
    # worker side (the AMQP property); tests/integration/test_celery_worker_observability.py
    # proves the id arrives in a real worker.
    assert json.loads(raw)["headers"][HEADER] == "req-1234"


def test_a_running_task_binds_the_id_it_was_given():
    beat_heartbeat.push_request(id="task-1", **{HEADER: "req-5678"})
    try:
        task_started(task_id="task-x", task=beat_heartbeat)
        assert correlation.current() == "req-5678"
    finally:
        beat_heartbeat.pop_request()
        correlation.clear()


def test_a_task_without_an_id_gets_a_fresh_one():
    beat_heartbeat.push_request(id="task-2")
    try:
        task_started(task_id="task-x", task=beat_heartbeat)
        assert len(correlation.current()) == 32
    finally:
        beat_heartbeat.pop_request()
        correlation.clear()


@pytest.mark.django_db
def test_the_beat_heartbeat_writes_its_timestamp():
    beat_heartbeat()
    assert float(state_client().get(BEAT_HEARTBEAT_KEY)) > 0

"""Beat's reconciliation passes behind a backlogged venue queue (found by the chaos run, bench/chaos.py).

A pass used to expire after one reconciliation interval: while a venue queue held more than that
much work (a burst of orders, a worker SIGKILLed, Redis restarted and the resolver's follow-ups
lost with it), every pass expired unrun, and an order whose outcome was unknown waited unresolved
until its submit deadline, then stayed SUBMIT_UNKNOWN although the venue never had it. Now a pass
waits up to RECONCILE_PASS_EXPIRES_SECONDS, and only one waits per venue API. These tests read
the messages beat's task puts on the real Redis broker.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime

import pytest
import redis
from django.conf import settings as django_settings

from orders.tasks import reconcile_all, reconcile_venue
from tests.fixtures.worker import purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


def _queued_passes(venue_api: str) -> list[dict]:
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    passes = []
    for raw in broker.lrange(venue_api, 0, -1):
        message = json.loads(raw)
        headers = message["headers"]
        if headers["task"] == "orders.tasks.reconcile_venue":
            body = json.loads(base64.b64decode(message["body"]))
            passes.append({"args": body[0], "expires": headers["expires"]})
    return passes


@pytest.fixture
def clean_queues():
    purge_queues()
    yield
    purge_queues()


def test_a_pass_waits_behind_a_backlog_longer_than_the_interval(clean_queues, settings):
    settings.RECONCILE_INTERVAL_SECONDS = 5.0
    settings.RECONCILE_PASS_EXPIRES_SECONDS = 300.0
    before = time.time()

    reconcile_all()

    for venue_api in django_settings.VENUE_APIS:
        (queued,) = _queued_passes(venue_api)
        assert queued["args"] == [venue_api]
        expires = datetime.fromisoformat(queued["expires"]).timestamp()
        assert expires - before >= 290  # not the 5-second interval


def test_only_one_pass_waits_per_venue_until_it_starts(clean_queues, emulator):
    reconcile_all()
    reconcile_all()  # the first passes have not started: nothing more is queued
    assert [len(_queued_passes(api)) for api in django_settings.VENUE_APIS] == [1, 1, 1, 1]

    reconcile_venue("binance.spot")  # the pass starts (here, in this process) ...
    reconcile_all()  # ... so the next beat queues another for that venue API only

    assert len(_queued_passes("binance.spot")) == 2
    assert len(_queued_passes("bitmex")) == 1


def test_a_pass_that_could_not_be_published_does_not_block_the_next(clean_queues, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(reconcile_venue, "apply_async", broker_down)
    with pytest.raises(ConnectionError):
        reconcile_all()
    monkeypatch.undo()

    reconcile_all()

    assert [len(_queued_passes(api)) for api in django_settings.VENUE_APIS] == [1, 1, 1, 1]

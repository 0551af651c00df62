from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_live_answers_without_dependencies():
    response = Client().get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_postgresql_and_redis_are_up():
    response = Client().get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["postgresql"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


def test_ready_names_redis_when_it_is_down_and_live_stays_up(redis_server):
    redis_server.stop()
    client = Client()
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["down"] == ["redis"]
    assert ready.json()["checks"]["postgresql"]["ok"] is True
    assert client.get("/health/live").status_code == 200
    redis_server.start()
    assert client.get("/health/ready").status_code == 200


def test_ready_names_postgresql_when_it_is_unreachable():
    """A real process whose DATABASE_URL points at a closed port."""
    import os
    import subprocess
    import sys

    from tests.fixtures.services import ROOT, script_result

    script = (
        "import django, json, sys; django.setup(); from django.test import Client; "
        "r = Client().get('/health/ready'); sys.stdout.write('RESULT ' + json.dumps([r.status_code, r.json()]) + chr(10))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://app@127.0.0.1:1/trading",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status, body = script_result(result.stdout)
    assert status == 503
    assert body["down"] == ["postgresql"]
    assert body["checks"]["redis"]["ok"] is True

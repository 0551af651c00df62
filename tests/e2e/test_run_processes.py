"""`make run`'s process set (the Procfile under honcho) starts, answers /health/ready, and
Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx
import pytest
from django.conf import settings

from tests.fixtures.services import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def loaded_venue_apis(instrument_model) -> set[str]:
    return set(instrument_model.objects.values_list("venue_api", flat=True).distinct())


def test_procfile_processes_start_answer_ready_and_stop_cleanly(tmp_path):
    db = settings.DATABASES["default"]
    port = _free_port()
    binance_port, bitmex_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PATH": f"{ROOT}/.venv/bin:{os.environ['PATH']}",
        "PORT": str(port),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "EMULATOR_BINANCE_PORT": str(binance_port),
        "EMULATOR_BITMEX_PORT": str(bitmex_port),
        # the worker loads instruments from the emulator honcho starts beside it
        "BINANCE_SPOT_BASE_URL": f"http://127.0.0.1:{binance_port}",
        "BINANCE_USDM_BASE_URL": f"http://127.0.0.1:{binance_port}",
        "BINANCE_COINM_BASE_URL": f"http://127.0.0.1:{binance_port}",
        "BITMEX_BASE_URL": f"http://127.0.0.1:{bitmex_port}",
        "EXECUTION_RECONCILE_ON_WORKER_START": "true",
        "WORKER_METRICS_PORT": str(_free_port()),
        "CELERY_CONCURRENCY": "1",
        "WEB_CONCURRENCY": "1",
    }
    log = open(tmp_path / "honcho.log", "wb")  # noqa: SIM115 - closed below
    honcho = subprocess.Popen(
        [f"{ROOT}/.venv/bin/honcho", "-f", "Procfile", "start"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert honcho.poll() is None, (tmp_path / "honcho.log").read_text()
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, (tmp_path / "honcho.log").read_text()
        # The worker is up too: it answers a broadcast ping.
        from trading.celery import app

        deadline = time.monotonic() + 30
        replies = []
        while not replies and time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
        assert replies, "no Celery worker answered"
        # The exchange emulator listens on the ports the environment gave it.
        for emulator_port, path in ((binance_port, "/api/v3/ping"), (bitmex_port, "/api/v1")):
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{emulator_port}{path}", timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, (tmp_path / "honcho.log").read_text()
                    time.sleep(0.5)
            assert answer.status_code == 200, answer.text
        # `make run` loads no instruments before honcho: the starting worker does, from the
        # emulator started beside it (retrying while the emulator is not up yet).
        from orders.models import Instrument

        deadline = time.monotonic() + 60
        while set(settings.VENUE_APIS) - loaded_venue_apis(Instrument):
            assert time.monotonic() < deadline, (tmp_path / "honcho.log").read_text()[-5000:]
            time.sleep(0.5)
    finally:
        os.killpg(honcho.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    deadline = time.monotonic() + 15
    while _group_alive(honcho.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _group_alive(honcho.pid), "processes were left behind after Ctrl-C"
    output = (tmp_path / "honcho.log").read_text()
    for name in ("web", "worker", "beat", "emulator"):
        assert f"{name}.1" in output

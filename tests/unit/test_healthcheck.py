"""deploy/healthcheck, the container health check (Dockerfile HEALTHCHECK, ECS healthCheck)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.fixtures.aws import ROOT

SCRIPT = str(ROOT / "deploy" / "healthcheck")


def _check(*args: str, **env: str) -> int:
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        env={**os.environ, **env},
        capture_output=True,
        timeout=30,
    ).returncode


@pytest.fixture
def http_server():
    """A loopback server answering every GET with the status set on it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        status = 200

        def do_GET(self):
            self.send_response(Handler.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.handler = Handler
    yield server
    server.shutdown()  # serve_forever returns: its thread ends
    server.server_close()


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def test_web_is_healthy_when_ready_answers_200(http_server):
    port = str(http_server.server_address[1])
    assert _check("web", PORT=port) == 0
    http_server.handler.status = 503
    assert _check("web", PORT=port) == 1
    assert _check("web", PORT=_closed_port()) == 1


def test_worker_is_healthy_when_its_metrics_answer(http_server):
    assert _check("worker", WORKER_METRICS_PORT=str(http_server.server_address[1])) == 0
    assert _check("worker", WORKER_METRICS_PORT=_closed_port()) == 1
    assert _check("worker", WORKER_METRICS_PORT="0") == 0  # endpoint off: nothing to ask


def test_beat_is_healthy_while_a_celery_beat_process_runs():
    fake_beat = subprocess.Popen(
        ["/opt/venv/bin/celery", "-c", "import time; time.sleep(60)", "beat"],
        executable=sys.executable,
    )
    try:
        assert _check("beat") == 0
    finally:
        fake_beat.kill()
        fake_beat.wait()


def test_without_an_argument_it_checks_what_the_entrypoint_recorded(tmp_path, http_server):
    recorded = tmp_path / "process-type"
    recorded.write_text("web\n")
    env = {"PROCESS_TYPE_FILE": str(recorded), "PORT": str(http_server.server_address[1])}
    assert _check(**env) == 0
    recorded.write_text("emulator\n")
    assert _check(**env) == 2

"""Two OS processes share one rate budget: a real HTTP endpoint never sees the limit exceeded."""

from __future__ import annotations

import math
import multiprocessing as mp
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.reliability import procs

pytestmark = [pytest.mark.slow]

LIMIT, PERIOD, CALLS, WORKERS = 5, 1.0, 8, 2


@pytest.fixture
def counting_server():
    arrivals: list[float] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                arrivals.append(time.time())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.arrivals = arrivals
    yield server
    server.shutdown()
    server.server_close()


def test_two_processes_sharing_a_budget_never_exceed_the_limit(counting_server, worker_env):
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    url = f"http://127.0.0.1:{counting_server.server_address[1]}/api/v3/ping"
    # both start just after a window boundary, a few seconds from now (interpreters start)
    start_at = math.floor(time.time()) + 4.2
    workers = [
        ctx.Process(
            target=procs.budget_worker,
            args=(dict(worker_env), LIMIT, PERIOD, start_at, CALLS, url, results),
            daemon=True,
        )
        for _ in range(WORKERS)
    ]
    for w in workers:
        w.start()
    done = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(10)
    assert done == [CALLS] * WORKERS
    per_window = Counter(math.floor(t / PERIOD) for t in counting_server.arrivals)
    assert sum(per_window.values()) == CALLS * WORKERS
    assert max(per_window.values()) <= LIMIT, per_window
    # without a shared budget both would have sent LIMIT per window: 10 in the first one
    assert len(per_window) >= math.ceil(CALLS * WORKERS / LIMIT)

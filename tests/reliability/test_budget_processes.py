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


@pytest.mark.django_db
def test_two_processes_placing_orders_never_trip_the_emulators_limit(emulator, worker_env):
    """The venue itself counts: the emulator answers 429 as soon as the shared order budget
    would be overdrawn (3 orders per second per key; each process alone would send 2/s)."""
    emulator.set_limits("bitmex", order_per_second=3)
    env = {
        **worker_env,
        "BITMEX_BASE_URL": emulator.bitmex_url,
        "BITMEX_API_KEY": emulator.bitmex_api_key,
        "BITMEX_API_SECRET": emulator.bitmex_api_secret,
        "RETRY_SUBMIT_ATTEMPTS": "1",  # a 429 would surface instead of being retried
    }
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    start_at = time.time() + 5
    workers = [
        ctx.Process(
            target=procs.emulator_order_worker,
            args=(env, i, 2, start_at, 6, results),
            daemon=True,
        )
        for i in range(WORKERS)
    ]
    for w in workers:
        w.start()
    done = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(10)
    assert done == [(6, [])] * WORKERS
    ours = [o for o in emulator.orders("bitmex") if o["client_order_id"].startswith("budget-")]
    assert len(ours) == 6 * WORKERS

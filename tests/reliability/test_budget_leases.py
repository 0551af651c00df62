"""Budget leases (reliability/budget.py): a process charges a slice of a budget ahead in Redis
and admits calls from it without a trip. What must hold: the venue's limit across processes,
NORMAL's share, the lease given back or left charged (never spent twice), a cooldown stopping
it, corrections from the venue's headers counting what is leased."""

from __future__ import annotations

import math
import multiprocessing as mp
import threading
import time
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reliability.breaker import breaker_for
from reliability.budget import RateBudget, budget_for, forget_budgets
from reliability.channel import Channel
from reliability.conf import Budget
from reliability.errors import RateLimitedError, RetryableError
from reliability.guard import Priority, guarded_call
from tests.fixtures.reliability import CountingVenue as Venue
from tests.reliability import procs

pytestmark = pytest.mark.django_db

API = "binance.spot"
LIMIT, PERIOD = 1000, 10


@pytest.fixture
def roomy(settings, fake_clock):
    """1,000 weight per 10 s, leases up to 10 % (100); the clock at a window's start."""
    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        lease_share=0.1,
        max_wait_seconds=600,
        budgets={
            **rate.budgets,
            API: (
                Budget(
                    "weight_1m", "window", LIMIT, PERIOD, "weight", "ip", "x-mbx-used-weight-1m"
                ),
            ),
        },
    )
    fake_clock.now = (fake_clock.now // PERIOD + 1) * PERIOD
    return fake_clock


@pytest.fixture
def trips(monkeypatch):
    counted = []
    call = Channel.call

    def counting(self, batch):
        counted.append(batch)
        return call(self, batch)

    monkeypatch.setattr(Channel, "call", counting)
    return counted


def shared_used() -> float:
    """The window's count in Redis, as every other process sees it (another handle)."""
    return RateBudget(API).snapshot()["budgets"]["weight_1m"]["used"]


def past_view(clock) -> None:
    clock.advance(breaker_for(API).config.cache_seconds + 1e-3)


def test_calls_are_admitted_from_the_lease_without_a_trip(roomy, trips):
    venue = Venue()
    RateBudget(API).snapshot()  # the scripts loaded (a first trip would find them missing)
    breaker_for(API).snapshot()
    guarded_call(API, "query", venue)
    assert len(trips) == 1
    (leased,) = budget_for(API).leased()
    assert leased >= 1
    assert shared_used() == 1 + leased  # charged ahead: the others see it spent
    for _ in range(int(leased)):
        guarded_call(API, "query", venue)
    assert len(trips) == 1 and venue.calls == 1 + leased
    guarded_call(API, "query", venue)  # the lease is spent: ask Redis
    assert len(trips) == 2


def test_what_the_lease_left_goes_back_with_the_next_trip(roomy, trips):
    venue = Venue()
    for _ in range(3):
        guarded_call(API, "query", venue)
    past_view(roomy)  # the view of the breaker grew old: the next call asks Redis
    guarded_call(API, "query", venue)
    assert len(trips) == 2
    (leased,) = budget_for(API).leased()
    assert shared_used() == venue.calls + leased  # 4 calls, the rest given back, a new lease


def test_a_lease_is_not_spent_after_its_time(roomy, trips, settings):
    breakers = settings.RELIABILITY_BREAKERS
    settings.RELIABILITY_BREAKERS = {
        api: replace(config, cache_seconds=1.0) for api, config in breakers.items()
    }
    guarded_call(API, "query", Venue())
    assert budget_for(API).leased()[0] >= 1
    roomy.advance(settings.RELIABILITY_RATE.lease_seconds)
    guarded_call(API, "query", Venue())
    assert len(trips) == 2  # a lease past RATE_LEASE_SECONDS is not spent


def test_leases_stay_within_normal_share(roomy):
    # another process used all but 3 of NORMAL's 800: the lease gets only what is left
    RateBudget(API).acquire(weight=797, orders=0, priority=Priority.HIGH, deadline=roomy.now + 1)
    guarded_call(API, "submit", Venue())
    assert budget_for(API).leased() == [2.0]
    assert shared_used() == LIMIT * 0.8
    # HIGH (cancels) may still use the reserve: through Redis, never through a lease
    RateBudget(API).acquire(weight=200, orders=0, priority=Priority.HIGH, deadline=roomy.now + 1)
    assert shared_used() == LIMIT


def test_low_priority_calls_never_spend_the_lease(roomy, trips):
    guarded_call(API, "query", Venue())
    leased = budget_for(API).leased()[0]
    guarded_call(API, "market_data", Venue(), priority=Priority.LOW)
    assert len(trips) == 2  # LOW asks Redis for its own share
    assert budget_for(API).leased()[0] == leased  # and leaves the lease alone


def test_a_429_stops_the_lease_and_every_call_waits_out_the_cooldown(roomy):
    venue = Venue()
    guarded_call(API, "query", venue)
    assert budget_for(API).leased()[0] >= 2

    def too_many():
        raise RetryableError("too many requests", status=429, retry_after=5)

    with pytest.raises((RetryableError, RateLimitedError)):
        guarded_call(API, "query", too_many, deadline=roomy.now + 1)
    assert budget_for(API).leased()[0] == 0
    started = roomy.now
    guarded_call(API, "query", venue)  # asks Redis, which knows of the cooldown: waits
    assert roomy.now - started >= 4.9


def test_a_process_gone_with_its_lease_leaves_it_charged_and_corrections_count_it(roomy):
    guarded_call(API, "query", Venue())
    (leased,) = budget_for(API).leased()
    forget_budgets()  # the process is gone: its lease is never given back
    assert shared_used() == 1 + leased  # still charged: nobody can spend it twice
    other = RateBudget(API)
    other.observe(headers={"X-MBX-USED-WEIGHT-1M": "50"})  # the venue counts 50 (others' use)
    assert shared_used() == 50 + leased  # the lease may still be spent: counted beside them
    roomy.advance(roomy.now // PERIOD * PERIOD + PERIOD - roomy.now)  # the next window
    guarded_call(API, "query", Venue())
    (leased,) = budget_for(API).leased()
    forget_budgets()
    roomy.advance(2.0)  # past the lease's end (and a second's grace for clocks)
    other.observe(headers={"X-MBX-USED-WEIGHT-1M": "60"})
    assert shared_used() == 60  # an ended lease is no longer counted beside the venue's


def _child_spends(queue):
    from reliability.budget import budget_for
    from reliability.runtime import runtime

    queue.put(budget_for(API).take_local(runtime().clock(), 1, 0, 1))


def test_a_forked_child_does_not_spend_its_parents_lease(roomy):
    guarded_call(API, "query", Venue())
    assert budget_for(API).leased()[0] >= 1
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_spends, args=(queue,))
    child.start()
    assert queue.get(timeout=60) is None
    child.join(10)
    assert budget_for(API).take_local(roomy.now, 1, 0, 1) is not None  # the parent still may


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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_processes_leasing_never_exceed_the_limit(counting_server, worker_env):
    limit, period, calls = 100, 1.0, 150  # NORMAL may use 80 a window; 300 calls need 4+
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    url = f"http://127.0.0.1:{counting_server.server_address[1]}/api/v3/ping"
    start_at = math.floor(time.time()) + 4.2
    workers = [
        ctx.Process(
            target=procs.lease_worker,
            args=(dict(worker_env), limit, period, start_at, calls, url, results),
            daemon=True,
        )
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    done = [results.get(timeout=180) for _ in workers]
    for w in workers:
        w.join(10)
    assert [made for made, _ in done] == [calls, calls]
    per_window = Counter(math.floor(t / period) for t in counting_server.arrivals)
    assert sum(per_window.values()) == 2 * calls
    assert max(per_window.values()) <= limit * 0.8, per_window  # NORMAL's share, both together
    assert all(trips < calls for _, trips in done), done  # most calls came from leases


def test_threads_spending_a_lease_while_it_is_given_back_never_spend_it_twice(roomy):
    """Worker threads admit calls from the lease while another thread gives it back (the next
    trip): each unit of the lease is either spent by a call or given back, never both."""
    import sys

    from reliability.budget import _Lease

    budget = RateBudget(API)
    budgets = budget.budgets
    now = roomy.now + PERIOD / 2
    granted = 40.0
    spenders = 4
    twice = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # a thread switch every few bytecodes: a race shows up
    try:
        for _ in range(150):
            lease = _Lease(budgets, [math.floor(now / PERIOD)], [granted], [0.0], now, now + 60)
            budget._lease = lease
            spent = [0] * spenders
            start = threading.Barrier(spenders + 1)

            def spend(i, lease=lease, spent=spent, start=start):
                start.wait()
                while True:
                    used = budget.take_local(now, 1, 0, 1)
                    if used is None:
                        return
                    if used is lease.used:
                        spent[i] += 1

            threads = [threading.Thread(target=spend, args=(i,)) for i in range(spenders)]
            for thread in threads:
                thread.start()
            start.wait()
            time.sleep(0)
            back = budget._give_back(now, budgets)
            for thread in threads:
                thread.join(timeout=10)
            given_back = back[0][0] if back else 0.0
            if sum(spent) + given_back != granted:
                twice.append((sum(spent), given_back))
    finally:
        sys.setswitchinterval(switch)
    assert not twice, (
        f"spent + given back != granted ({granted:g}) in {len(twice)} rounds: {twice[:5]}"
    )

"""Several OS processes share one breaker through Redis: one trips it, exactly one probes.
Outage detection is on in the workers (their venue's ping follows the scripted venue)."""

from __future__ import annotations

import multiprocessing as mp
import queue
import time

import pytest

from reliability.models import CircuitEvent
from tests.reliability import procs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

API = "binance.usdm"
WORKERS = 4
RECOVERY = 30.0


class Pool:
    def __init__(self, env):
        ctx = mp.get_context("spawn")
        self.clock = ctx.Value("d", 1_800_000_000.0)
        self.sends = ctx.Value("i", 0)
        self.release = ctx.Event()
        self.barrier = ctx.Barrier(WORKERS)
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(WORKERS)]
        self.procs = [
            ctx.Process(
                target=procs.worker,
                args=(i, env, self.clock, self.sends, self.release, self.barrier, q, self.results),
                daemon=True,
            )
            for i, q in enumerate(self.commands)
        ]
        for p in self.procs:
            p.start()

    def send(self, command, arg):
        for q in self.commands:
            q.put((command, arg))

    def collect(self, n, timeout=90):
        return [self.results.get(timeout=timeout)[1] for _ in range(n)]

    def none_pending(self, wait=0.5):
        try:
            self.results.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def stop(self):
        self.send("stop", None)
        for p in self.procs:
            p.join(20)
            if p.is_alive():
                p.kill()


@pytest.fixture
def pool(worker_env, monkeypatch):
    monkeypatch.setenv("BREAKER_FAILURE_COUNT", "3")
    monkeypatch.setenv("BREAKER_RECOVERY_SECONDS", str(RECOVERY))
    monkeypatch.setenv("BREAKER_HALF_OPEN_CALLS", "1")
    monkeypatch.setenv("RETRY_QUERY_ATTEMPTS", "1")
    workers = Pool(dict(worker_env))
    yield workers
    workers.stop()


def moves():
    return list(
        CircuitEvent.objects.filter(venue_api=API)
        .order_by("id")
        .values_list("from_state", "to_state", "trigger")
    )


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def race_one_probe(pool, *, failing):
    pool.clock.value += RECOVERY
    pool.sends.value = 0
    pool.release.clear()
    pool.send("call", (API, True, failing))
    refused = pool.collect(WORKERS - 1)  # the probe is held inside the venue call
    assert refused == ["refused"] * (WORKERS - 1)
    wait_for(lambda: pool.sends.value >= 1)
    assert pool.sends.value == 1
    pool.release.set()
    outcome = pool.collect(1)[0]
    assert pool.sends.value == 1  # nothing followed the probe (no confirmation pings)
    return outcome


def test_racing_processes_trip_once_probe_once_and_close_or_reopen(pool):
    # Closed -> Open: every process hammers a failing venue at once; exactly one trips it.
    pool.send("fail_until_open", API)
    sent = pool.collect(WORKERS)
    # The threshold, minus failed confirmation pings, plus calls already in flight.
    assert 1 <= sum(sent) <= 3 + WORKERS
    assert moves() == [("closed", "open", "failures")]

    # Open -> Half-Open -> Open: one probe among the racers; it fails. No confirmation pings
    # follow it (race_one_probe counts every exchange, pings included: exactly one).
    assert race_one_probe(pool, failing=True) == "failed"
    assert moves()[1:] == [
        ("open", "half_open", "recovery_timeout"),
        ("half_open", "open", "probe_failure"),
    ]

    # Open -> Half-Open -> Closed: again one probe; it succeeds and everyone may call again.
    assert race_one_probe(pool, failing=False) == "ok"
    assert moves()[3:] == [
        ("open", "half_open", "recovery_timeout"),
        ("half_open", "closed", "probe_success"),
    ]
    pool.sends.value = 0
    pool.send("call", (API, False, False))
    assert pool.collect(WORKERS) == ["ok"] * WORKERS
    assert pool.sends.value == WORKERS

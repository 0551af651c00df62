"""A process admits calls on its last view of a closed breaker for BREAKER_CACHE_SECONDS
(reliability/breaker.py). What must hold: a breaker opened elsewhere (a trip, a ban, an
operator's force-open) refuses here within that time; half-open still lets exactly one probe
through; calls let through on a stale view cannot close or re-open anything."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from reliability.breaker import Breaker, breaker_for
from reliability.budget import RateBudget, budget_for
from reliability.errors import BreakerOpenError
from reliability.guard import guarded_call
from tests.reliability import procs

pytestmark = pytest.mark.django_db

API = "bitmex"


class Answer:
    headers: dict = {}


def ok():
    return Answer()


@pytest.fixture
def warm(fake_clock):
    """The scripts loaded (a first trip finding them missing would go step by step)."""
    RateBudget(API).snapshot()
    Breaker(API).snapshot()
    return fake_clock


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["force_open", "ban"])
def test_a_breaker_opened_in_another_process_refuses_here_within_the_cache_time(
    how, worker_env, fresh_reliability
):
    cache = breaker_for(API).config.cache_seconds
    guarded_call(API, "query", ok)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    start_at = time.time() + 4
    opener = ctx.Process(
        target=procs.opener_worker, args=(dict(worker_env), API, start_at, how, results)
    )
    opener.start()
    refused_at, admitted = None, []  # when each call admitted here started
    deadline = start_at + 30
    while time.time() < deadline:
        started = time.time()
        try:
            guarded_call(API, "query", ok)
        except BreakerOpenError:
            refused_at = started
            break
        admitted.append(started)
        time.sleep(0.002)
    opened_at = results.get(timeout=60)  # taken after Redis had it
    opener.join(10)
    assert refused_at is not None, "the breaker opened elsewhere never refused a call here"
    # no call that started later than the cache time after the opening was let through (a
    # bound on when calls start, whatever a loaded machine does to this loop's pace)
    assert max(admitted) <= opened_at + cache, (max(admitted) - opened_at, cache)
    assert refused_at >= max(admitted)
    assert Breaker(API).snapshot()["state"] in ("open", "forced_open")


def hold_a_fresh_view_and_a_lease(fake_clock) -> None:
    """Healthy calls until this process admits the next one on its own: a fresh view of the
    closed breaker and a lease. A first call can go step by step, which grants no lease (a
    fresh handle, or this thread's channel to Redis left broken by an earlier test)."""
    for _ in range(5):
        guarded_call(API, "query", ok)
        lease = budget_for(API)._lease
        if lease is not None and breaker_for(API).local_permit(fake_clock.now) is not None:
            return
    pytest.fail(f"no fresh closed view and lease after 5 healthy calls (lease: {lease})")


def test_calls_on_a_stale_view_cannot_close_an_open_breaker(warm):
    fake_clock = warm
    hold_a_fresh_view_and_a_lease(fake_clock)  # this process's view: closed, a lease to call on
    other = Breaker(API)  # another process
    for _ in range(other.config.failure_count):
        other.record_failure(other.acquire())
    assert other.snapshot()["state"] == "open"
    guarded_call(API, "query", ok)  # let through on the (fresh) closed view: a stale success
    fake_clock.advance(breaker_for(API).config.cache_seconds + 1e-3)
    with pytest.raises(BreakerOpenError):
        guarded_call(API, "query", ok)  # its batch of successes went along: still open
    assert other.snapshot()["state"] == "open"


def test_half_open_still_lets_exactly_one_probe_through(warm):
    fake_clock = warm
    guarded_call(API, "query", ok)
    other = Breaker(API)
    other.open_until(fake_clock.now + 1, reason="418: banned")
    fake_clock.advance(2)  # past the ban: the next call anywhere probes
    assert other.acquire().probe  # another process takes the one probe
    with pytest.raises(BreakerOpenError):
        guarded_call(API, "query", ok)  # this process's view is stale: asks Redis, refused
    assert other.snapshot()["state"] == "half_open"


def test_an_operators_force_open_here_refuses_the_very_next_call(fake_clock):
    guarded_call(API, "query", ok)
    breaker_for(API).force_open(by="alice", reason="maintenance")
    with pytest.raises(BreakerOpenError) as refused:
        guarded_call(API, "query", ok)
    assert refused.value.forced

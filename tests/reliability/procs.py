"""Worker processes for the racing tests (spawned: each one a fresh interpreter with Django).

Each worker owns a command queue; the clock is a shared double the test moves forward, so no
one ever sleeps for a recovery timeout.
"""

from __future__ import annotations

import os
import queue


def worker(index, env, clock, sends, release, barrier, commands, results):
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from reliability import detection
    from reliability.errors import BreakerOpenError, RetryableError
    from reliability.guard import guarded_call
    from reliability.runtime import use_runtime

    venue = {"failing": True}  # what the venue's ping answers (outage confirmation pings)

    def fail():
        raise RetryableError("venue down", status=503)

    def ping(api):
        def fn():
            with sends.get_lock():
                sends.value += 1
            if venue["failing"]:
                raise RetryableError("ping: venue down", status=503)
            return "pong"

        return guarded_call(api, detection.PROBE_OPERATION, fn)

    for venue_api in settings.VENUE_APIS:
        detection.register_prober(venue_api, lambda api=venue_api: ping(api))

    def probe(block: bool, failing: bool):
        venue["failing"] = failing

        def fn():
            with sends.get_lock():
                sends.value += 1
            if block:
                release.wait(60)
            if failing:
                raise RetryableError("still down", status=503)
            return "ok"

        return fn

    with use_runtime(clock=lambda: clock.value, sleep=lambda seconds: None):
        while True:
            try:
                command, arg = commands.get(timeout=120)
            except queue.Empty:
                return
            if command == "stop":
                return
            if command == "fail_until_open":
                barrier.wait(60)
                made = 0
                for _ in range(100):
                    try:
                        guarded_call(arg, "query", fail)
                    except RetryableError as exc:
                        if isinstance(exc, BreakerOpenError):
                            break
                        made += 1
                results.put((index, made))
            elif command == "call":
                api, block, failing = arg
                barrier.wait(60)
                try:
                    outcome = guarded_call(api, "query", probe(block, failing))
                except BreakerOpenError:
                    outcome = "refused"
                except RetryableError:
                    outcome = "failed"
                results.put((index, outcome))


def budget_worker(env, limit, period, start_at, calls, url, results):
    """Make `calls` weight-1 calls to url through guarded_call, sharing a small budget."""
    os.environ.update(env)
    import time
    from dataclasses import replace

    import django

    django.setup()
    import httpx
    from django.conf import settings

    from reliability.conf import Budget
    from reliability.guard import Priority, guarded_call

    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        max_wait_seconds=120,
        budgets={
            **rate.budgets,
            "binance.spot": (
                Budget(
                    "weight_1m", "window", limit, period, "weight", "ip", "x-mbx-used-weight-1m"
                ),
            ),
        },
    )
    time.sleep(max(0.0, start_at - time.time()))
    ok = 0
    with httpx.Client(timeout=10) as client:
        for _ in range(calls):
            guarded_call(
                "binance.spot",
                "query",
                lambda: client.get(url),
                priority=Priority.HIGH,
                deadline=time.time() + 120,
            )
            ok += 1
    results.put(ok)


def emulator_order_worker(env, index, orders_per_second, start_at, count, results):
    """Place `count` BitMEX orders through the real adapter, sharing one order-rate budget."""
    os.environ.update(env)
    import time
    from dataclasses import replace

    import django

    django.setup()
    from django.conf import settings

    from bench._venue import limit_order, place
    from exchanges.registry import adapter_for
    from reliability.conf import Budget

    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        budgets={
            **rate.budgets,
            "bitmex": (
                Budget("requests_1m", "bucket", 120, 60, "request", "key", "x-ratelimit-remaining"),
                Budget(
                    "orders_1s",
                    "bucket",
                    orders_per_second,
                    1,
                    "orders",
                    "key",
                    "x-ratelimit-remaining-1s",
                ),
            ),
        },
    )
    adapter = adapter_for("bitmex")
    adapter.open_orders(venue_symbol="XBTUSD")  # warm up (instrument lookup) before the race
    time.sleep(max(0.0, start_at - time.time()))
    outcomes = [
        place(
            adapter, limit_order("XBTUSD", f"budget-{index}-{i}", quantity="100", price="10000.0")
        )
        for i in range(count)
    ]
    errors = [outcome for outcome in outcomes if outcome != "placed"]
    results.put((len(outcomes) - len(errors), errors))


def lease_worker(env, limit, period, start_at, calls, url, results):
    """Make `calls` NORMAL weight-1 calls to url through guarded_call, sharing one budget with
    leases on (10 % of the limit at most); reports (calls made, trips to Redis waited for)."""
    os.environ.update(env)
    import time
    from dataclasses import replace

    import django

    django.setup()
    import httpx
    from django.conf import settings

    from reliability.channel import Channel
    from reliability.conf import Budget
    from reliability.guard import Priority, guarded_call

    rate = settings.RELIABILITY_RATE
    settings.RELIABILITY_RATE = replace(
        rate,
        max_wait_seconds=120,
        lease_share=0.1,
        budgets={
            **rate.budgets,
            "binance.spot": (
                Budget(
                    "weight_1m", "window", limit, period, "weight", "ip", "x-mbx-used-weight-1m"
                ),
            ),
        },
    )
    trips = [0]
    call = Channel.call

    def counted(self, batch):
        trips[0] += 1
        return call(self, batch)

    Channel.call = counted
    time.sleep(max(0.0, start_at - time.time()))
    ok = 0
    with httpx.Client(timeout=10) as client:
        for _ in range(calls):
            guarded_call(
                "binance.spot",
                "query",
                lambda: client.get(url),
                priority=Priority.NORMAL,
                deadline=time.time() + 120,
            )
            ok += 1
    results.put((ok, trips[0]))


def opener_worker(env, venue_api, start_at, how, results):
    """At start_at, open venue_api's breaker (an operator's force-open, or a venue ban) and
    report when Redis had it."""
    os.environ.update(env)
    import time

    import django

    django.setup()
    from reliability.breaker import breaker_for

    breaker = breaker_for(venue_api)
    breaker.snapshot()  # scripts loaded before the moment
    time.sleep(max(0.0, start_at - time.time()))
    if how == "force_open":
        breaker.force_open(by="alice", reason="maintenance")
    else:
        breaker.open_until(time.time() + 60, reason="418: banned")
    results.put(time.time())

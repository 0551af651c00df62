"""Shared fixtures. Every test runs against the real PostgreSQL and Redis that `make test`
starts (DATABASE_URL, REDIS_URL); fixtures of each area live in tests/fixtures/<area>.py."""

from __future__ import annotations

import glob
import os
import threading
import time

import pytest

pytest_plugins = ["pytester"] + [
    f"tests.fixtures.{os.path.basename(path)[:-3]}"
    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "fixtures", "*.py")))
    if not path.endswith("__init__.py")
]


@pytest.fixture(autouse=True)
def _restore_health_registry():
    """Tests may register or unregister health checks; the app's own are back afterwards."""
    from monitoring import health

    saved = dict(health._REGISTRY)
    yield
    with health._REGISTRY_LOCK:
        health._REGISTRY.clear()
        health._REGISTRY.update(saved)


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with empty Redis databases (cache and shared reliability state)."""
    from django.core.cache import cache

    from monitoring.redis import state_client

    try:
        state_client().flushdb()
        cache.clear()
    except Exception:
        pass
    yield


# --- no test leaves a thread running ---------------------------------------------------------
# A thread that outlives its test (a health check still pinging a venue the test took down, a
# server a fixture did not stop) can open a breaker or write rows into a later test. After each
# test's teardown, every non-daemon thread it started must be gone and no health check may
# still run; else the test errors at teardown.
_THREADS_BEFORE = pytest.StashKey[set]()
_THREAD_GRACE_SECONDS = 5.0  # a stopping thread may take a moment to end
_CHECK_DRAIN_SECONDS = 30.0  # longest a teardown waits for a health check still running
# Pool workers idle between tasks by design: the health pool's work is checked on its own.
_POOL_THREADS = ("health_",)


def _started_threads(before: set) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread not in before and not thread.daemon and not thread.name.startswith(_POOL_THREADS)
    ]


def _describe(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    return thread.name + (f" ({getattr(target, '__qualname__', target)})" if target else "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    item.stash[_THREADS_BEFORE] = set(threading.enumerate())
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    from monitoring import health

    # A check still running (a venue ping that overran the request's timeout) ends first, while
    # the test's settings, emulator and database are still in place.
    health.wait_for_running_checks(_CHECK_DRAIN_SECONDS)
    result = yield
    before = item.stash.get(_THREADS_BEFORE, None)
    if before is None:
        return result
    deadline = time.monotonic() + _THREAD_GRACE_SECONDS
    for thread in _started_threads(before):
        thread.join(max(0.0, deadline - time.monotonic()))
    leaked = [_describe(thread) for thread in _started_threads(before)]
    checks = health.wait_for_running_checks(max(0.0, deadline - time.monotonic()))
    if leaked or checks:
        pytest.fail(
            f"the test left threads running: {leaked}, health checks still running: {checks}",
            pytrace=False,
        )
    return result

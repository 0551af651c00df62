"""tests/conftest.py's guard: a test that leaves a thread or a health check running errors at
its teardown (run here on a small inner test session, in this process)."""

from __future__ import annotations

import threading
import time

import pytest

from monitoring import health
from tests import conftest

INNER_CONFTEST = "from tests.conftest import pytest_runtest_setup, pytest_runtest_teardown\n"
INNER_OPTIONS = ("-p", "no:django", "-p", "no:cov", "-p", "no:playwright", "-q")


@pytest.fixture
def inner(pytester, monkeypatch):
    monkeypatch.setattr(conftest, "_THREAD_GRACE_SECONDS", 0.3)
    monkeypatch.setattr(conftest, "_CHECK_DRAIN_SECONDS", 0.3)
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def test_a_test_leaving_a_thread_running_errors_at_teardown(inner):
    inner.makepyfile(
        """
        import threading

        release = threading.Event()

        def test_starts_a_thread_and_leaves_it():
            threading.Thread(target=release.wait, args=(30,), name="leaky").start()

        def test_stops_it_at_its_end():
            release.set()
            thread = threading.Thread(target=release.wait, name="joined")
            thread.start()
            thread.join()

        def test_daemon_threads_are_not_counted():
            threading.Thread(target=threading.Event().wait, daemon=True).start()
        """
    )
    result = inner.runpytest_inprocess(*INNER_OPTIONS)
    result.assert_outcomes(passed=3, errors=1)
    output = result.stdout.str()
    assert "ERROR at teardown of test_starts_a_thread_and_leaves_it" in output
    assert "the test left threads running: ['leaky (Event.wait)']" in output


def test_a_health_check_still_running_after_the_test_errors_at_teardown(inner):
    release = threading.Event()
    health.register_check("slow", lambda: {"ok": release.wait(30)})
    inner.makepyfile(
        """
        from monitoring import health

        def test_asks_for_health_and_leaves_the_check_running():
            health.run_checks([health.get_check("slow")], now=0.0, timeout=0.01)
        """
    )
    try:
        result = inner.runpytest_inprocess(*INNER_OPTIONS)
    finally:
        release.set()
    assert health.wait_for_running_checks(10) == []
    result.assert_outcomes(passed=1, errors=1)
    assert "health checks still running: ['slow']" in result.stdout.str()


def test_a_check_still_running_ends_before_the_tests_fixtures_are_torn_down(inner, monkeypatch):
    monkeypatch.setattr(conftest, "_CHECK_DRAIN_SECONDS", 30.0)
    health.register_check("slow", lambda: {"ok": not time.sleep(0.5)})
    inner.makepyfile(
        """
        import pytest
        from monitoring import health

        seen_at_teardown = []

        @pytest.fixture
        def venue():
            yield  # a test's emulator, settings or database go away here
            seen_at_teardown.append(health.wait_for_running_checks(0))

        def test_leaves_a_check_running(venue):
            health.run_checks([health.get_check("slow")], now=0.0, timeout=0.01)

        def test_the_check_had_ended_before_the_fixture_was_torn_down():
            assert seen_at_teardown == [[]]
        """
    )
    inner.runpytest_inprocess(*INNER_OPTIONS).assert_outcomes(passed=2)

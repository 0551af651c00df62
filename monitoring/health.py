"""Dependency checks for the health endpoints. Each returns a dict with `ok` and details."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection

from monitoring.redis import state_client


def _timed(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # a health check reports every failure, it never raises
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}"[:300],
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_postgresql() -> dict:
    def ping():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    result = _timed(ping)
    if not result["ok"]:
        connection.close_if_unusable_or_obsolete()
    return result


def check_redis() -> dict:
    return _timed(lambda: state_client().ping())


READINESS_CHECKS = {"postgresql": check_postgresql, "redis": check_redis}


# Checks other apps register (name -> callable returning a dict with `ok`), e.g. the
# reliability layer's breakers. monitoring imports none of them; they call register_check.
REGISTERED_CHECKS: dict[str, Callable[[], dict]] = {}


def register_check(name: str, fn: Callable[[], dict]) -> None:
    REGISTERED_CHECKS[name] = fn

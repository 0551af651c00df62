"""Health checks: a registry the apps add to, the built-in dependency checks, and the cached
aggregate behind /health/ and /health/exchanges/<venue>.

Other apps register their checks from AppConfig.ready() (monitoring never imports them):

    from monitoring.health import register_check
    register_check("binance.spot", probe_binance_spot, kind="venue")

A check is a zero-argument callable returning a dict with at least `ok` (bool). It may add
`status` ("ok" | "degraded" | "down"; default from `ok`) and any details (latency_ms, breaker,
rate_budget, last_success_at, error ...). A check that raises or overruns its timeout is
reported down; a check never takes the health endpoint down with it.

Status of the aggregate: "down" (HTTP 503) when a critical check is down, "degraded" (200) when
any other check is down or degraded, "ok" (200) otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections

from monitoring.redis import state_client

log = structlog.get_logger(__name__)

KINDS = ("dependency", "venue")
STATUSES = ("ok", "degraded", "down")
CheckFn = Callable[[], dict]


@dataclass(frozen=True)
class Check:
    name: str
    fn: CheckFn
    kind: str
    critical: bool


_REGISTRY: dict[str, Check] = {}
_REGISTRY_LOCK = threading.Lock()


def register_check(
    name: str, fn: CheckFn, *, kind: str = "dependency", critical: bool = False
) -> None:
    """Adds (or replaces) a named check. `critical` checks down make the aggregate 503."""
    if kind not in KINDS:
        raise ValueError(f"health check kind must be one of {KINDS}, got {kind!r}")
    if not callable(fn):
        raise TypeError(f"health check {name!r} must be callable")
    with _REGISTRY_LOCK:
        _REGISTRY[name] = Check(name=name, fn=fn, kind=kind, critical=critical)


def unregister_check(name: str) -> None:
    with _REGISTRY_LOCK:
        _REGISTRY.pop(name, None)


def registered_checks(kind: str | None = None) -> list[Check]:
    with _REGISTRY_LOCK:
        checks = list(_REGISTRY.values())
    return [check for check in checks if kind is None or check.kind == kind]


def get_check(name: str, kind: str | None = None) -> Check | None:
    check = _REGISTRY.get(name)
    if check is None or (kind is not None and check.kind != kind):
        return None
    return check


# --- built-in dependency checks --------------------------------------------------------------


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


def register_builtin_checks() -> None:
    """PostgreSQL is critical (nothing works without it); Redis, workers and beat degrade."""
    from monitoring.heartbeats import check_beat, check_celery_workers

    register_check("postgresql", check_postgresql, critical=True)
    register_check("redis", check_redis)
    register_check("celery_workers", check_celery_workers)
    register_check("beat", check_beat)


# --- running checks: a thread pool with a timeout, results cached -----------------------------

_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")
_LOCAL_CACHE: dict[str, dict] = {}
_LOCAL_LOCK = threading.Lock()
_SHARED_PREFIX = "health:check:"


def _call(check: Check) -> tuple[dict, float]:
    """The check's own answer and how long it took (ms), in a pool thread."""
    started = time.perf_counter()
    try:
        raw = dict(check.fn() or {})
    finally:
        connections.close_all()  # this pool thread's own DB connection, if the check used one
    return raw, round((time.perf_counter() - started) * 1000, 2)


def _normalise(check: Check, raw: dict, *, latency_ms: float, now: float) -> dict:
    status = raw.get("status")
    if status not in STATUSES:
        status = "ok" if raw.get("ok") else "down"
    result = {**raw, "ok": status != "down", "status": status}
    result.setdefault("latency_ms", latency_ms)
    result.update(kind=check.kind, critical=check.critical, checked_at=now)
    return result


_INFLIGHT: dict[str, Future] = {}
# Every check still running, by name: also those clear_local_cache() stopped waiting on.
_RUNNING: dict[Future, str] = {}
_RUNNING_LOCK = threading.Lock()


def _submit(check: Check) -> Future:
    """A check still running from an earlier request is waited on, never started twice: a
    hanging venue cannot pile up probes or starve the pool."""
    with _LOCAL_LOCK:
        future = _INFLIGHT.get(check.name)
        if future is not None and not future.done():
            return future
        future = _INFLIGHT[check.name] = _POOL.submit(_call, check)
    with _RUNNING_LOCK:
        _RUNNING[future] = check.name
    future.add_done_callback(_finished)  # at once if it is done already
    return future


def _finished(future: Future) -> None:
    with _RUNNING_LOCK:
        _RUNNING.pop(future, None)


def wait_for_running_checks(timeout: float) -> list[str]:
    """Waits up to `timeout` seconds for the checks still running (a check that overran its
    request's timeout runs on, and may still open a breaker or write its events); returns the
    names of those still running then. Tests call it so that no check outlives its test."""
    with _RUNNING_LOCK:
        running = dict(_RUNNING)
    futures_wait(running, timeout=max(0.0, timeout))
    return sorted(name for future, name in running.items() if not future.done())


def run_checks(checks: list[Check], *, now: float, timeout: float) -> dict[str, dict]:
    """Runs checks concurrently; one that raises or overruns `timeout` seconds is down."""
    started = time.perf_counter()
    futures = {check.name: (check, _submit(check)) for check in checks}
    results = {}
    for name, (check, future) in futures.items():
        remaining = max(0.0, timeout - (time.perf_counter() - started))
        latency_ms = round((time.perf_counter() - started) * 1000, 2)  # unless it answers
        try:
            raw, latency_ms = future.result(timeout=remaining)
        except FutureTimeout:
            raw = {"ok": False, "error": f"timed out after {timeout:g} s"}
        except Exception as exc:  # the check raised: that is its answer
            raw = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name] = _normalise(check, raw, latency_ms=latency_ms, now=now)
    return results


def _cached(check: Check, now: float, ttl: float) -> dict | None:
    """Dependency checks are cached per process (each instance answers for its own links);
    venue checks are also shared through the Django cache, so the fleet probes a venue at most
    once per TTL."""
    with _LOCAL_LOCK:
        hit = _LOCAL_CACHE.get(check.name)
    if hit is None and check.kind == "venue":
        hit = cache.get(_SHARED_PREFIX + check.name)  # a Redis outage is a miss
    if hit is not None and 0 <= now - hit["checked_at"] < ttl:
        return hit
    return None


def _store(results: dict[str, dict], checks: dict[str, Check], ttl: float) -> None:
    with _LOCAL_LOCK:
        _LOCAL_CACHE.update(results)
    for name, result in results.items():
        if checks[name].kind == "venue":
            cache.set(_SHARED_PREFIX + name, result, timeout=max(1, int(ttl) + 1))


def _log_changes(fresh: dict[str, dict]) -> None:
    """One log line when a check changes status in this process, not one per refresh."""
    with _LOCAL_LOCK:
        before = {name: _LOCAL_CACHE.get(name, {}).get("status", "ok") for name in fresh}
    for name, result in fresh.items():
        if result["status"] != before[name]:
            level = log.info if result["status"] == "ok" else log.warning
            level(
                "health_check_changed",
                check=name,
                status=result["status"],
                was=before[name],
                error=result.get("error"),
            )


def clear_local_cache() -> None:
    with _LOCAL_LOCK:
        _LOCAL_CACHE.clear()
        _INFLIGHT.clear()  # a probe still running is no longer waited on


def clear_cache() -> None:
    clear_local_cache()
    for check in registered_checks("venue"):
        cache.delete(_SHARED_PREFIX + check.name)


def results_for(checks: list[Check], *, clock: Callable[[], float] = time.time) -> dict:
    """Each check's latest result, from the cache when fresh, run again otherwise."""
    now = clock()
    ttl = settings.HEALTH_CACHE_SECONDS
    results, stale = {}, []
    for check in checks:
        hit = _cached(check, now, ttl)
        if hit is not None:
            results[check.name] = {**hit, "cached": True}
        else:
            stale.append(check)
    if stale:
        fresh = run_checks(stale, now=now, timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
        _log_changes(fresh)
        _store(fresh, {check.name: check for check in stale}, ttl)
        results.update({name: {**result, "cached": False} for name, result in fresh.items()})
    return results


def overall_status(results: dict[str, dict]) -> str:
    if any(r["critical"] and r["status"] == "down" for r in results.values()):
        return "down"
    if any(r["status"] != "ok" for r in results.values()):
        return "degraded"
    return "ok"


def aggregate(*, clock: Callable[[], float] = time.time) -> dict:
    """The whole picture: every dependency and every venue API, with an overall status."""
    results = results_for(registered_checks(), clock=clock)
    return {
        "status": overall_status(results),
        "cache_seconds": settings.HEALTH_CACHE_SECONDS,
        "checks": {n: r for n, r in results.items() if r["kind"] == "dependency"},
        "venues": {n: r for n, r in results.items() if r["kind"] == "venue"},
    }


def venue(name: str, *, clock: Callable[[], float] = time.time) -> dict | None:
    """One venue API's check (cached like the aggregate), or None when nothing is registered."""
    check = get_check(name, kind="venue")
    if check is None:
        return None
    return {"venue": name, **results_for([check], clock=clock)[name]}

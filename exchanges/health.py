"""Per venue API health for /health/ and /health/exchanges/<venue> (registered with
monitoring.health by ExchangesConfig.ready; monitoring imports nothing from here).

One check per venue API reports:
- reachability and latency: the adapter's ping (the venue's cheapest public call, through
  guarded_call like every venue call; the health cache runs it at most once per
  HEALTH_CACHE_SECONDS for the whole fleet, and never while the breaker refuses calls);
- the breaker (state, whether it lets calls through, when it may probe again);
- the rate budget (use per window, cooldown and ban seconds);
- the last call the venue answered (ok or a business rejection), from any process.

down: no credentials configured, unreachable, breaker open / forced open, or banned. degraded: half-open, cooling down
after a 429, or running on local state because Redis is unreachable.
"""

from __future__ import annotations

import time

import structlog

from exchanges.types import VENUE_APIS
from monitoring.redis import state_client

log = structlog.get_logger(__name__)

LAST_ANSWER_PREFIX = "venue:last_answer:"
_WRITE_EVERY_SECONDS = 1.0  # at most one Redis write per venue API per process per second
_last_written: dict[str, float] = {}
_REFUSING = ("open", "forced_open")


def note_answered(venue_api: str, *, now: float | None = None) -> None:
    """Remember that the venue answered a call (cheap; never raises)."""
    now = time.time() if now is None else now
    if now - _last_written.get(venue_api, 0.0) < _WRITE_EVERY_SECONDS:
        return
    _last_written[venue_api] = now
    try:
        state_client().set(LAST_ANSWER_PREFIX + venue_api, f"{now:.3f}")
    except Exception as exc:  # Redis down must never fail a venue call that worked
        log.debug("venue_last_answer_not_stored", venue=venue_api, error=str(exc))


def last_answered_at(venue_api: str) -> float | None:
    raw = state_client().get(LAST_ANSWER_PREFIX + venue_api)
    return float(raw) if raw is not None else None


def _status(result: dict) -> str:
    breaker, budget = result["breaker"], result["rate_budget"]
    if not result["reachable"] or breaker["state"] in _REFUSING or budget["ban_seconds"] > 0:
        return "down"
    if breaker["state"] == "half_open" or budget["cooldown_seconds"] > 0:
        return "degraded"
    if breaker.get("degraded") or budget.get("degraded"):
        return "degraded"
    return "ok"


def check_venue(venue_api: str) -> dict:
    from exchanges.registry import adapter_for, config_for
    from reliability.breaker import breaker_for
    from reliability.budget import budget_for

    breaker = breaker_for(venue_api).snapshot()
    result: dict = {
        "breaker": {
            key: breaker.get(key)
            for key in ("state", "allows_calls", "consecutive_failures", "retry_at", "degraded")
        },
        "rate_budget": budget_for(venue_api).snapshot(),
    }
    config = config_for(venue_api)
    if not (config.api_key and config.api_secret):
        # The platform cannot trade here: say so, and never probe a venue it is not set up for.
        result.update(reachable=False, configured=False, error="no API credentials configured")
    elif breaker["allows_calls"]:
        try:
            result.update(reachable=True, ping_ms=round(adapter_for(venue_api).ping() * 1000, 2))
        except Exception as exc:
            result.update(reachable=False, error=f"{type(exc).__name__}: {exc}"[:300])
    else:
        result.update(reachable=False, error=f"circuit breaker {breaker['state']}")
    try:
        result["last_success_at"] = last_answered_at(venue_api)
    except Exception:  # Redis down: unknown, the rest still stands
        result["last_success_at"] = None
    result["status"] = _status(result)
    result["ok"] = result["status"] != "down"
    return result


def probe(venue_api: str) -> float:
    """One detection ping (reliability.detection): the adapter's ping as operation "probe"."""
    from exchanges.registry import adapter_for
    from reliability.detection import PROBE_OPERATION

    return adapter_for(venue_api).ping(operation=PROBE_OPERATION)


def register() -> None:
    from monitoring.health import register_check
    from reliability.detection import register_prober

    for venue_api in VENUE_APIS:
        register_check(venue_api, lambda api=venue_api: check_venue(api), kind="venue")
        register_prober(venue_api, lambda api=venue_api: probe(api))

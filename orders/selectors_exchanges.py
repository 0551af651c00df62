"""Reads about the venue APIs: does each take orders now (its circuit breaker, live from
reliability's shared state in Redis), and what its health check last said (monitoring's
registry, cached for HEALTH_CACHE_SECONDS so readers never load a venue)."""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring import health
from reliability.breaker import all_breakers


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts else None


def venue_health() -> dict[str, dict]:
    """Venue API -> its latest health result (only venue APIs with a registered check)."""
    return health.results_for(health.registered_checks("venue"))


def venue_apis_status(*, health_results: dict[str, dict] | None = None) -> list[dict]:
    """One row per venue API in settings.VENUE_APIS order: exchange, breaker (with opened /
    retry as datetimes), accepting_orders, health (None without a registered check)."""
    if health_results is None:
        health_results = venue_health()
    rows = []
    for venue_api, snap in all_breakers().items():
        breaker = {**snap, "opened": _when(snap["opened_at"]), "retry": _when(snap["retry_at"])}
        rows.append(
            {
                "venue_api": venue_api,
                "exchange": venue_api.split(".")[0],
                "accepting_orders": snap["allows_calls"],
                "breaker": breaker,
                "health": health_results.get(venue_api),
            }
        )
    return rows

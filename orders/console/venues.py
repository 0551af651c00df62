"""Per venue API: its circuit breaker, live from reliability's shared state (Redis), and its
health check from the monitoring registry; and the platform's dependencies (PostgreSQL, Redis,
workers, beat). Health results come from monitoring's cache (HEALTH_CACHE_SECONDS), so the
dashboard never probes a venue more often than /health/ does."""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring import health
from reliability.breaker import all_breakers


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts else None


def venue_overview(venue_health: dict[str, dict] | None = None) -> list[dict]:
    """One row per venue API, in settings.VENUE_APIS order (Redis only, no SQL)."""
    venue_health = venue_health or {}
    rows = []
    for venue_api, snap in all_breakers().items():
        breaker = {**snap, "opened": _when(snap["opened_at"]), "retry": _when(snap["retry_at"])}
        rows.append(
            {"venue_api": venue_api, "breaker": breaker, "health": venue_health.get(venue_api)}
        )
    return rows


def platform_health() -> dict:
    """monitoring.health.aggregate(): overall status, each dependency, each venue check."""
    return health.aggregate()

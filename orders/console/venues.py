"""The dashboard's view of the venues and the platform's dependencies."""

from __future__ import annotations

from monitoring import health
from orders.selectors_exchanges import venue_apis_status


def platform_health() -> dict:
    """monitoring.health.aggregate(): overall status, each dependency, each venue check."""
    return health.aggregate()


def venue_overview(venue_health: dict[str, dict] | None = None) -> list[dict]:
    """Each venue API's breaker (live from Redis) with its health result."""
    return venue_apis_status(health_results=venue_health or {})

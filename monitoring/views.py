from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import health
from monitoring.health import READINESS_CHECKS
from trading.errors import error_body


@never_cache
@require_GET
def live(request):
    """The process answers. Never touches a dependency."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    """PostgreSQL and Redis reachable: 200, else 503 naming what is down."""
    checks = {name: check() for name, check in READINESS_CHECKS.items()}
    down = sorted(name for name, result in checks.items() if not result["ok"])
    body = {"status": "ok" if not down else "unavailable", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)


@never_cache
@require_GET
def aggregate(request):
    """Every dependency and venue API (cached): 200 ok or degraded, 503 when a critical one is down."""
    body = health.aggregate()
    return JsonResponse(body, status=503 if body["status"] == "down" else 200)


@never_cache
@require_GET
def exchange(request, venue: str):
    """One venue API: reachability, latency, breaker, rate budget, last success (cached)."""
    body = health.venue(venue)
    if body is None:
        message = f"no health check is registered for venue API {venue!r}"
        return JsonResponse(error_body("not_found", message), status=404)
    return JsonResponse(body, status=503 if body["status"] == "down" else 200)

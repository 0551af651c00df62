from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.health import READINESS_CHECKS


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

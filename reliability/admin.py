"""The breaker board (live state from Redis, force-open / force-close / reset, history) and
the CircuitEvent history, read-only."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from reliability.breaker import BreakerStoreUnavailable, all_breakers
from reliability.budget import budget_for
from reliability.models import BreakerBoard, CircuitEvent
from reliability.services import ACTIONS, breaker_operate
from reliability.transitions import IllegalTransition

VIEW_PERM = "reliability.view_circuitevent"
OPERATE_PERM = "reliability.operate_breakers"


@admin.register(CircuitEvent)
class CircuitEventAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "venue_api",
        "from_state",
        "to_state",
        "trigger",
        "actor",
        "reason",
        "local",
    )
    list_filter = ("venue_api", "to_state", "trigger", "local")
    search_fields = ("actor", "reason")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _when(ts: float | None):
    return datetime.fromtimestamp(ts, tz=UTC) if ts else None


@admin.register(BreakerBoard)
class BreakerBoardAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_active and request.user.has_perm(VIEW_PERM)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "",
                self.admin_site.admin_view(self.board_view),
                name="reliability_breakerboard_changelist",
            )
        ]

    def board_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._operate(request)
        breakers = []
        for snap in all_breakers().values():
            budget = budget_for(snap["venue_api"]).snapshot()
            breakers.append(
                {
                    **snap,
                    "opened": _when(snap["opened_at"]),
                    "retry": _when(snap["retry_at"]),
                    "since_at": _when(snap["since"]),
                    "budget": budget,
                }
            )
        venue = request.GET.get("venue_api", "")
        events = CircuitEvent.objects.all()
        if venue:
            events = events.filter(venue_api=venue)
        context = {
            **self.admin_site.each_context(request),
            "title": "Breaker board",
            "opts": self.model._meta,
            "breakers": breakers,
            "degraded": any(b["degraded"] for b in breakers),
            "events": events[:100],
            "venue_filter": venue,
            "can_operate": request.user.has_perm(OPERATE_PERM),
            "actions": [(a, a.replace("_", "-")) for a in ACTIONS],
        }
        return TemplateResponse(request, "admin/reliability/breaker_board.html", context)

    def _operate(self, request):
        if not request.user.has_perm(OPERATE_PERM):
            raise PermissionDenied
        venue_api = request.POST.get("venue_api", "")
        action = request.POST.get("action", "")
        reason = request.POST.get("reason", "")
        try:
            state = breaker_operate(
                venue_api=venue_api,
                action=action,
                by=request.user.get_username(),
                reason=reason,
            )
        except (ValueError, IllegalTransition, BreakerStoreUnavailable) as exc:
            messages.error(request, f"{venue_api}: {exc}")
        else:
            messages.success(request, f"{venue_api}: {action.replace('_', '-')} done, now {state}")
        return redirect("admin:reliability_breakerboard_changelist")

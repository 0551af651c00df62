"""Admin views of the console: the operations dashboard and one order's timeline."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse

from orders.console import selectors
from orders.console.venues import platform_health, venue_overview
from orders.models import Actor, Order, OrderState
from reliability.models import CircuitEvent

VIEW_ORDERS = "orders.view_order"
VIEW_BREAKERS = "reliability.view_circuitevent"
# Outcome-unknown orders listed on the dashboard (oldest first; the rest via the order list).
UNKNOWN_SHOWN = 20


def dashboard_view(request):
    """Orders by state, outcome-unknown orders, breakers and venue health, corrections and the
    latest operator actions, on one page."""
    if not request.user.has_perm(VIEW_ORDERS):
        raise PermissionDenied
    counts = selectors.orders_by_state()
    unknown_total = next(r.count for r in counts.rows if r.state == OrderState.SUBMIT_UNKNOWN)
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "counts": counts,
        "unknown": selectors.unknown_orders(limit=UNKNOWN_SHOWN),
        "unknown_total": unknown_total,
        "unknown_state": OrderState.SUBMIT_UNKNOWN.value,
        "corrections": selectors.latest_corrections(),
        "operator_actions": _operator_actions(request),
        **_venues(request),
    }
    return TemplateResponse(request, "admin/orders/console/dashboard.html", context)


def _venues(request) -> dict:
    if not request.user.has_perm(VIEW_BREAKERS):
        return {"venues": None, "health": None}
    health = platform_health()
    return {"venues": venue_overview(health["venues"]), "health": health}


def _operator_actions(request, limit: int = 20) -> list[dict]:
    """Order actions (events by actor operator) and breaker actions (CircuitEvents by a person),
    newest first."""
    rows = [
        {"at": e.created_at, "what": "order", "event": e}
        for e in selectors.latest_events(actor=Actor.OPERATOR, limit=limit)
    ]
    if request.user.has_perm(VIEW_BREAKERS):
        circuit = CircuitEvent.objects.exclude(actor="system").order_by("-created_at", "-id")
        rows += [{"at": c.created_at, "what": "breaker", "event": c} for c in circuit[:limit]]
    rows.sort(key=lambda row: row["at"], reverse=True)
    return rows[:limit]


def timeline_view(model_admin, request, object_id: int):
    """Events, fills and venue-call attempts of one order, in the order they happened."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        timeline = selectors.order_timeline(order_id=object_id)
    except Order.DoesNotExist:
        raise Http404(f"order {object_id} does not exist") from None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Order {timeline.order.pk} timeline",
        "opts": model_admin.opts,
        "original": timeline.order,
        "timeline": timeline,
        "limit": selectors.TIMELINE_LIMIT,
    }
    return TemplateResponse(request, "admin/orders/console/timeline.html", context)

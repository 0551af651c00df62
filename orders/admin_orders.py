"""The operators' console for orders and instruments.

Built for large tables: no full counts (estimated or capped), joins selected up front, filters
with fixed choices (never SELECT DISTINCT over orders), exact-match search on indexed columns.
Every operator action goes through orders.services and is recorded as an event with actor
"operator" and the operator's username.
"""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from orders import services
from orders.errors import IllegalTransition, StaleOrder
from orders.models import VENUES, Actor, Fill, Instrument, Order, OrderAttempt, OrderEvent

# Above this many rows the admin shows "more than" pages instead of an exact count.
COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """PostgreSQL's row estimate for an unfiltered big table; a capped count otherwise."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                estimate = cursor.fetchone()[0]
            if estimate and estimate > COUNT_CAP:
                return int(estimate)
        return queryset.order_by()[:COUNT_CAP].count()


class VenueFilter(admin.SimpleListFilter):
    title = "venue"
    parameter_name = "venue"

    def lookups(self, request, model_admin):
        return [(v, v) for v in VENUES]

    def queryset(self, request, queryset):
        return queryset.filter(venue=self.value()) if self.value() else queryset


class SymbolFilter(admin.SimpleListFilter):
    """Symbols from the (small) instrument table, not from the orders."""

    title = "symbol"
    parameter_name = "symbol"

    def lookups(self, request, model_admin):
        symbols = Instrument.objects.order_by("symbol").values_list("symbol", flat=True).distinct()
        return [(s, s) for s in symbols]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(
            instrument__in=Instrument.objects.filter(symbol=self.value()).values("pk")
        )


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(_ReadOnlyInline):
    model = OrderEvent
    fields = ("sequence", "created_at", "from_state", "to_state", "actor", "reason")
    fields += ("correlation_id", "venue_payload")
    readonly_fields = fields
    ordering = ("sequence",)


class FillInline(_ReadOnlyInline):
    model = Fill
    fields = ("trade_id", "ts", "quantity", "price", "fee", "fee_asset", "venue_api")
    readonly_fields = fields
    ordering = ("ts",)


class OrderAttemptInline(_ReadOnlyInline):
    model = OrderAttempt
    fields = ("started_at", "operation", "endpoint", "outcome", "http_status", "error_class")
    fields += ("error_code", "error_message", "duration_ms", "correlation_id")
    readonly_fields = fields
    ordering = ("started_at",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "client_order_id", "account", "venue_api", "symbol", "side", "type")
    list_display += ("quantity", "price", "filled_quantity", "state", "created_at", "timeline")
    list_filter = (
        "state",
        VenueFilter,
        "instrument__market_type",
        SymbolFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("client_order_id", "venue_order_id")
    search_help_text = "Exact client order id, venue order id or platform id."
    list_select_related = ("account", "instrument")
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ("-created_at", "-id")
    inlines = [OrderEventInline, FillInline, OrderAttemptInline]
    actions = ["request_cancel", "request_reconcile"]
    readonly_fields = ("cancel_latency",)

    @admin.display(ordering="instrument__symbol")
    def symbol(self, order: Order) -> str:
        return order.instrument.symbol

    @admin.display(description="history")
    def timeline(self, order: Order) -> str:
        url = reverse("admin:orders_order_timeline", args=[order.pk])
        return format_html('<a href="{}">timeline</a>', url)

    def get_urls(self):
        from orders.console.views import timeline_view

        view = self.admin_site.admin_view(partial(timeline_view, self))
        timeline = path("<int:object_id>/timeline/", view, name="orders_order_timeline")
        return [timeline, *super().get_urls()]

    @admin.display(description="cancel latency")
    def cancel_latency(self, order: Order) -> str:
        if order.cancel_requested_at and order.cancel_confirmed_at:
            return (
                f"{(order.cancel_confirmed_at - order.cancel_requested_at).total_seconds():.3f} s"
            )
        return "-"

    def get_readonly_fields(self, request, obj=None):
        # Everything: the state machine owns state, quantities and venue ids; operators act
        # through the actions, which go through the services.
        return [f.name for f in Order._meta.concrete_fields] + list(self.readonly_fields)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(client_order_id=term) | Q(venue_order_id=term)
        if term.isdigit():
            match |= Q(pk=int(term))
        return queryset.filter(match), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False}
        extra_context.update(show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Request cancel (recorded as operator)", permissions=["change"])
    def request_cancel(self, request, queryset):
        operator = request.user.get_username()
        done, refused = 0, []
        for order in queryset.select_related("instrument"):
            try:
                services.order_cancel(
                    order=order,
                    actor=Actor.OPERATOR,
                    reason=f"cancel requested by operator {operator}",
                    payload={"operator": operator},
                )
                done += 1
            except (IllegalTransition, StaleOrder) as exc:
                refused.append(f"{order.pk}: {exc.detail}")
        self._report(request, done, refused, "cancel")

    @admin.action(description="Request reconcile (recorded as operator)", permissions=["change"])
    def request_reconcile(self, request, queryset):
        operator = request.user.get_username()
        count = 0
        for order in queryset:
            services.order_request_reconcile(
                order=order,
                actor=Actor.OPERATOR,
                reason=f"reconciliation requested by operator {operator}",
                payload={"operator": operator},
            )
            count += 1
        self._report(request, count, [], "reconcile")

    def _report(self, request, done: int, refused: list[str], what: str) -> None:
        if done:
            self.message_user(request, f"{what} requested for {done} order(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{what} refused: " + "; ".join(refused), messages.WARNING)


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("venue_api", "venue_symbol", "symbol", "market_type", "tick_size")
    list_display += ("step_size", "min_qty", "min_notional", "contract_size", "expiry", "active")
    list_filter = ("venue_api", "market_type", "active", "base")
    search_fields = ("symbol", "venue_symbol")
    ordering = ("venue_api", "venue_symbol")
    readonly_fields = ("refreshed_at",)

"""Reconciliation: the platform's view of every open or uncertain order, brought in line with
the venue's. Every correction is an event with actor `reconciler` and is counted
(RECONCILIATION_CORRECTIONS by venue and kind).

Per order (`order_reconcile`, task reconcile_order; also the outcome-unknown resolver):

| state                    | what reconciliation does                                            |
|--------------------------|---------------------------------------------------------------------|
| PENDING_NEW              | a `pending` attempt with the order lock free = its worker died: the outcome is unknown -> SUBMIT_UNKNOWN; no attempt for too long: queue the submit again, at most once per EXECUTION_STALE_SECONDS (a Redis key; Redis down: every pass) |
| SUBMIT_UNKNOWN (resolver)| query by client id: found -> adopt its state, venue id and fills; proven absent after the venue's visibility delay -> PENDING_NEW and resend with the SAME client id; past the submit deadline -> stays SUBMIT_UNKNOWN, flagged for operators (event + OUTCOME_UNKNOWN_* metrics), still adopted if it ever shows up |
| PENDING_CANCEL           | query: finished -> adopt (confirmed by `reconcile`); still open -> cancel again |
| PENDING_AMEND            | query: amend landed -> adopt it; finished -> adopt; else amend again |
| NEW / PARTIALLY_FILLED   | adopt the venue's state and fills (a fill, a cancel or expiry at the venue) |

Per venue API (`venue_reconcile`, beat and worker start): in-flight orders first, then open
orders (one open-orders call, then single queries only for orders the venue no longer lists
open), oldest first, at most RECONCILE_BATCH_SIZE; reads go at HIGH priority in the rate
budget, and a pass stops early when the venue refuses (breaker open, budget exhausted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from exchanges.types import VenueOrder
from monitoring.metrics import (
    OUTCOME_UNKNOWN_OLDEST_SECONDS,
    OUTCOME_UNKNOWN_OPEN,
    RECONCILIATION_CORRECTIONS,
    RECONCILIATION_RUNS,
)
from orders import lifecycle
from orders.errors import IllegalTransition, StaleOrder
from orders.execution import amend, attempts, cancel, followups, submit, venue
from orders.execution.adopt import order_adopt
from orders.execution.locks import order_lock
from orders.models import Actor, Order, OrderAttempt, OrderState
from reliability.errors import BreakerOpenError, RateLimitedError, VenueError

log = structlog.get_logger(__name__)
S = OrderState
R = Actor.RECONCILER
FLAG_REASON = "outcome still unknown after the submit deadline: flagged for operators"
_IN_FLIGHT = (S.PENDING_NEW, S.SUBMIT_UNKNOWN, S.PENDING_CANCEL, S.PENDING_AMEND)
_OPEN = (S.NEW, S.PARTIALLY_FILLED)


def _count(order: Order, kinds) -> None:
    for kind in kinds:
        RECONCILIATION_CORRECTIONS.labels(venue=order.venue_api, kind=kind).inc()


def order_reconcile(*, order_id: int, venue_order: VenueOrder | None = None) -> str:
    """Reconciles one order; `venue_order` is the venue's view when a pass already has it."""
    with order_lock(order_id) as held:
        if not held:
            return "busy"  # a worker is on it right now
        order = Order.objects.select_related("instrument").filter(pk=order_id).first()
        if order is None:
            return "noop"
        if order.state in lifecycle.TERMINAL_STATES:
            return _missing_fills(order, venue_order)
        handler = {
            S.PENDING_NEW: _pending_new,
            S.SUBMIT_UNKNOWN: resolve_unknown,
            S.PENDING_CANCEL: _pending_cancel,
            S.PENDING_AMEND: _pending_amend,
        }.get(order.state, _open)
        return handler(order, venue_order)


# --- in flight ---------------------------------------------------------------------------------


def _pending_new(order: Order, _venue_order=None) -> str:
    lost = attempts.unfinished(order, operation=OrderAttempt.Operation.SUBMIT)
    if lost:  # we hold the lock, so the worker that wrote these is gone
        attempts.mark_lost(lost, why="worker lost between write-ahead and answer")
        _count(order, ["worker_lost"])
        if submit.mark_unknown(order, actor=R, why="a worker died mid-send") != "unknown":
            return "stale"
        return resolve_unknown(order)
    stale_after = settings.EXECUTION_STALE_SECONDS
    if (timezone.now() - order.updated_at).total_seconds() < stale_after:
        return "waiting"
    if not _first_requeue_in(order, seconds=stale_after):
        return "waiting"  # its submit is already queued: one per stale interval, not per pass
    followups.schedule("submit_order", order_id=order.pk, queue=order.venue_api)
    return "requeued"


def _first_requeue_in(order: Order, *, seconds: float) -> bool:
    """True for the first re-queue of the order in `seconds` (re-queuing does not touch the row,
    so its age alone would re-queue it on every pass). Redis down: True, better twice than none."""
    from django.core.cache import cache

    key = f"reconcile:requeued:{order.pk}"
    try:  # add() is None when the cache swallowed a Redis error, False when the key exists
        added = cache.add(key, 1, timeout=seconds)
    except Exception:
        added = None
    if added is None:
        log.warning("reconcile_requeue_mark_failed", order_id=order.pk, venue=order.venue_api)
    return added is not False


def resolve_unknown(order: Order, _venue_order=None) -> str:
    """The outcome-unknown resolver: query by client id, then adopt, resend or flag."""
    adapter = venue.adapter_for_order(order)
    try:
        found = venue.query_order(order, adapter, by_client_id_only=True)
    except VenueError as exc:
        _flag_if_overdue(order)
        _poll_again(order, at_least=exc.retry_after)
        return "unreachable"
    if found is not None:
        adoption = order_adopt(
            order=order,
            venue_order=found,
            adapter=adapter,
            actor=R,
            reason="outcome resolved: found at the venue by client order id",
        )
        _count(order, adoption.corrections)
        return "adopted"
    sent_at = attempts.last_send_at(order) or order.unknown_since or order.updated_at
    wait = venue.visibility_delay(order.venue_api) - (timezone.now() - sent_at).total_seconds()
    if wait > 0:
        _poll_again(order, at_least=wait)
        return "waiting"
    if submit.past_deadline(order):
        _flag_if_overdue(order)
        return "flagged"
    return _resend(order)


def _resend(order: Order) -> str:
    """Proven absent: back to PENDING_NEW and submit again with the SAME client order id."""
    try:
        with transaction.atomic():
            lifecycle.transition(
                order,
                S.PENDING_NEW,
                actor=R,
                reason=(
                    "proven absent at the venue after its visibility delay: "
                    "resending with the same client order id"
                ),
            )
            followups.schedule("submit_order", order_id=order.pk, queue=order.venue_api)
    except (StaleOrder, IllegalTransition):
        return "stale"
    _count(order, ["resend"])
    return "resend"


def _flag_if_overdue(order: Order) -> None:
    if not submit.past_deadline(order) or order.state != S.SUBMIT_UNKNOWN:
        return
    if order.events.filter(reason=FLAG_REASON).exists():
        return
    lifecycle.note(order, actor=R, reason=FLAG_REASON)
    log.warning("outcome_unknown_flagged", order_id=order.pk, venue=order.venue_api)


def _poll_again(order: Order, *, at_least: float | None = None) -> None:
    if submit.past_deadline(order):
        return  # the beat pass keeps looking; no tight loop on an overdue order
    delay = min(
        max(at_least or 0.0, settings.EXECUTION_RETRY_DELAY_SECONDS),
        settings.EXECUTION_RETRY_MAX_DELAY_SECONDS,  # an open breaker is asked again sooner
    )
    followups.schedule("reconcile_order", order_id=order.pk, queue=order.venue_api, countdown=delay)


def _pending_cancel(order: Order, venue_order=None) -> str:
    adapter = venue.adapter_for_order(order)
    if not attempts.may_be_at_venue(order):
        followups.schedule("cancel_order", order_id=order.pk, queue=order.venue_api)
        return "requeued"
    try:
        found = venue_order or venue.query_order(order, adapter)
    except VenueError:
        return "unreachable"
    if found is not None:
        adoption = order_adopt(
            order=order,
            venue_order=found,
            adapter=adapter,
            actor=R,
            reason="reconciled",
            cancel_source=Order.CancelSource.RECONCILE,
        )
        _count(order, adoption.corrections)
    if cancel.cancel_outstanding(order):
        followups.schedule("cancel_order", order_id=order.pk, queue=order.venue_api)
        return "requeued"
    return "reconciled"


def _pending_amend(order: Order, venue_order=None) -> str:
    adapter = venue.adapter_for_order(order)
    try:
        found = venue_order or venue.query_order(order, adapter)
    except VenueError:
        return "unreachable"
    if order.venue_api == "binance.spot" and (found is None or found.status.value not in _OPEN):
        found = _replacement(order, adapter) or found  # a cancelReplace that went through
    if found is None:
        return amend.revert_amend(order, why="amend: the venue does not know the order")
    if amend.amend_landed(order, found) or found.status.value not in _OPEN:
        _count(order, ["amend"])
        return amend.finish_amend(order, found, adapter, actor=R, reason="reconciled amend")
    followups.schedule("amend_order", order_id=order.pk, queue=order.venue_api)
    return "requeued"


def _replacement(order: Order, adapter) -> VenueOrder | None:
    try:
        return adapter.get_order(
            venue_symbol=order.instrument.venue_symbol,
            client_order_id=venue.replacement_client_order_id(order),
        )
    except VenueError:
        return None


# --- open --------------------------------------------------------------------------------------


def _open(order: Order, venue_order=None) -> str:
    adapter = venue.adapter_for_order(order)
    try:
        found = venue_order or venue.query_order(order, adapter)
    except VenueError:
        return "unreachable"
    if found is None:
        _count(order, ["missing_at_venue"])
        log.warning("open_order_missing_at_venue", order_id=order.pk, venue=order.venue_api)
        return "missing"
    adoption = order_adopt(
        order=order, venue_order=found, adapter=adapter, actor=R, reason="reconciled"
    )
    _count(order, adoption.corrections)
    if cancel.cancel_outstanding(order):  # a fill overtook a pending cancel
        followups.schedule("cancel_order", order_id=order.pk, queue=order.venue_api)
    return "corrected" if adoption.changed else "in_sync"


def _missing_fills(order: Order, venue_order=None) -> str:
    """A finished order whose recorded fills do not explain its filled quantity (the trades
    query failed when it finished): fetch the venue's trades and record the missing ones."""
    recorded = order.fills.aggregate(total=Sum("quantity"))["total"] or 0
    if order.filled_quantity <= recorded or not order.venue_order_id:
        return "noop"
    adapter = venue.adapter_for_order(order)
    try:
        found = venue_order or venue.query_order(order, adapter)
    except VenueError:
        return "unreachable"
    if found is None:
        return "missing"
    adoption = order_adopt(order=order, venue_order=found, adapter=adapter, actor=R, reason="fills")
    _count(order, adoption.corrections)
    return "corrected" if adoption.changed else "in_sync"


# --- a pass over one venue API -------------------------------------------------------------------


# A pass stops after this many orders in a row found the venue unreachable (budget, breaker).
_UNREACHABLE_STREAK = 3


class _VenueRefuses(Exception):
    pass


@dataclass
class PassReport:
    venue_api: str
    checked: int = 0
    results: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None
    _streak: int = 0

    def add(self, result: str) -> None:
        self.checked += 1
        self.results[result] = self.results.get(result, 0) + 1
        self._streak = self._streak + 1 if result == "unreachable" else 0
        if self._streak >= _UNREACHABLE_STREAK:
            raise _VenueRefuses(f"{self._streak} orders in a row could not reach the venue")


def venue_reconcile(*, venue_api: str) -> PassReport:
    RECONCILIATION_RUNS.labels(venue=venue_api).inc()
    report = PassReport(venue_api)
    batch = settings.RECONCILE_BATCH_SIZE
    active = Order.objects.filter(venue_api=venue_api).order_by("updated_at", "id")
    try:
        for order_id in active.filter(state__in=_IN_FLIGHT).values_list("id", flat=True)[:batch]:
            report.add(order_reconcile(order_id=order_id))
        open_ids = list(active.filter(state__in=_OPEN).values_list("id", flat=True)[:batch])
        if open_ids:
            _reconcile_open(venue_api, open_ids, report)
        for order_id in _finished_without_all_fills(venue_api)[:batch]:
            report.add(order_reconcile(order_id=order_id))
    except (BreakerOpenError, RateLimitedError, _VenueRefuses) as exc:
        report.stopped = str(exc)  # the venue refuses for now; the next pass continues
    finally:
        outcome_unknown_gauges(venue_api=venue_api)
    log.info(
        "reconciliation_pass",
        venue=venue_api,
        checked=report.checked,
        results=report.results,
        stopped=report.stopped,
    )
    return report


def _finished_without_all_fills(venue_api: str) -> list[int]:
    """Recently finished orders whose fills sum to less than their filled quantity."""
    since = timezone.now() - timedelta(seconds=settings.RECONCILE_FILLS_LOOKBACK_SECONDS)
    rows = (
        Order.objects.filter(
            venue_api=venue_api,
            state__in=lifecycle.TERMINAL_STATES,
            filled_quantity__gt=0,
            updated_at__gte=since,
        )
        .annotate(recorded=Coalesce(Sum("fills__quantity"), Value(Decimal(0))))
        .filter(recorded__lt=F("filled_quantity"))
        .order_by("updated_at")
    )
    return list(rows.values_list("id", flat=True))


def _reconcile_open(venue_api: str, order_ids: list[int], report: PassReport) -> None:
    """One open-orders call; orders it lists unchanged need no single query."""
    from exchanges.registry import adapter_for

    try:
        listed = {o.client_order_id: o for o in adapter_for(venue_api).open_orders()}
    except (BreakerOpenError, RateLimitedError):
        raise
    except VenueError:
        listed = None
    rows = Order.objects.filter(pk__in=order_ids).values_list(
        "id", "client_order_id", "filled_quantity", "cancel_requested_at"
    )
    for order_id, client_id, filled, cancel_requested in rows:
        seen = listed.get(client_id) if listed is not None else None
        if seen is not None and seen.filled_quantity == filled and cancel_requested is None:
            report.add("in_sync")
            continue
        report.add(order_reconcile(order_id=order_id, venue_order=seen))


def outcome_unknown_gauges(*, venue_api: str) -> None:
    """OUTCOME_UNKNOWN_OPEN / OLDEST for one venue API, from PostgreSQL."""
    unknown = Order.objects.filter(venue_api=venue_api, state=S.SUBMIT_UNKNOWN)
    oldest = unknown.aggregate(m=Min("unknown_since"))["m"]
    OUTCOME_UNKNOWN_OPEN.labels(venue=venue_api).set(unknown.count())
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    OUTCOME_UNKNOWN_OLDEST_SECONDS.labels(venue=venue_api).set(max(0.0, age))

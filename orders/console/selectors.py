"""What the operations dashboard and the order timeline read. Every query here is bounded and
served by an index, so the pages stay fast on millions of orders and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone

from orders.console.counts import EXACT_BELOW, table_estimate, value_frequencies
from orders.models import Actor, Order, OrderEvent, OrderState
from orders.models.orders import _OPEN_STATES

S = OrderState
# States a terminal count may be estimated for (open states are always counted exactly: the
# partial index order_open_by_state holds only them, and there are few).
_TERMINAL = tuple(s for s in S.values if s not in _OPEN_STATES)


@dataclass(frozen=True)
class StateCount:
    state: str
    count: int
    estimated: bool  # from pg_stats frequency times pg_class.reltuples, not counted
    open: bool


@dataclass(frozen=True)
class StateCounts:
    rows: list[StateCount]
    total: int
    estimated: bool


def orders_by_state() -> StateCounts:
    """Orders per state: exact on a small table; on a big one exact for the open states and
    capped exact counts for rare terminal states, estimates for the common terminal ones."""
    total = table_estimate(Order)
    if total is None or total < EXACT_BELOW:
        counts = dict(Order.objects.order_by().values_list("state").annotate(n=Count("id")))
        rows = [StateCount(s, counts.get(s, 0), False, s in _OPEN_STATES) for s in S.values]
        return StateCounts(rows=rows, total=sum(counts.values()), estimated=False)
    counts = dict(
        Order.objects.filter(state__in=_OPEN_STATES)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
    )
    freqs = value_frequencies(Order, "state")
    rows = []
    for state in S.values:
        if state in _OPEN_STATES:
            rows.append(StateCount(state, counts.get(state, 0), False, True))
        elif state in freqs:
            rows.append(StateCount(state, round(freqs[state] * total), True, False))
        else:  # rare: not among the most common values; the state index counts it quickly
            n = Order.objects.filter(state=state).order_by()[:EXACT_BELOW].count()
            rows.append(StateCount(state, n, n >= EXACT_BELOW, False))
    return StateCounts(rows=rows, total=total, estimated=True)


@dataclass(frozen=True)
class UnknownOrder:
    order: Order
    since: datetime
    age: timedelta
    overdue: bool  # past its submit deadline: the resolver will not resend any more

    @property
    def age_text(self) -> str:
        return duration_text(self.age)


def duration_text(delta: timedelta) -> str:
    """3 d 4 h, 2 h 5 min, 4 min 7 s, 12 s."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def unknown_orders(*, limit: int = 50, now: datetime | None = None) -> list[UnknownOrder]:
    """SUBMIT_UNKNOWN orders, oldest first: what operators must watch until they resolve."""
    now = now or timezone.now()
    orders = (
        Order.objects.filter(state=S.SUBMIT_UNKNOWN)
        .select_related("instrument", "account")
        .order_by("unknown_since", "id")[:limit]
    )
    rows = []
    for order in orders:
        since = order.unknown_since or order.updated_at
        overdue = bool(order.submit_deadline and order.submit_deadline < now)
        rows.append(UnknownOrder(order=order, since=since, age=now - since, overdue=overdue))
    return rows


def latest_events(*, actor: str, limit: int = 20) -> list[OrderEvent]:
    """The newest events written by one actor (index order_event_actor_created)."""
    return list(
        OrderEvent.objects.filter(actor=actor)
        .select_related("order__instrument")
        .order_by("-created_at", "-id")[:limit]
    )


def latest_corrections(*, limit: int = 20) -> list[OrderEvent]:
    """What reconciliation changed: the venue's truth adopted over the platform's view."""
    return latest_events(actor=Actor.RECONCILER, limit=limit)


# --- the order timeline ------------------------------------------------------------------------

# Rows of each kind shown on one timeline page (an order with more says so).
TIMELINE_LIMIT = 500


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "event" | "fill" | "attempt"
    row: Any
    sort_key: tuple = field(default=(), compare=False)


@dataclass(frozen=True)
class Timeline:
    order: Order
    entries: list[TimelineEntry]
    counts: dict[str, int]
    truncated: bool


_KIND_ORDER = {"attempt": 0, "event": 1, "fill": 2}


def order_timeline(*, order_id: int) -> Timeline:
    """One order's events, fills and venue-call attempts in one chronological list (4 queries).

    An attempt sorts by when it started, so a submit attempt comes before the NEW event its
    answer caused; at the same instant attempts, then events, then fills."""
    order = Order.objects.select_related("instrument", "account").get(pk=order_id)
    events = list(order.events.order_by("sequence")[: TIMELINE_LIMIT + 1])
    fills = list(order.fills.order_by("ts", "id")[: TIMELINE_LIMIT + 1])
    attempts = list(order.attempts.order_by("started_at", "id")[: TIMELINE_LIMIT + 1])
    truncated = any(len(rows) > TIMELINE_LIMIT for rows in (events, fills, attempts))
    entries = [
        *(_entry(e.created_at, "event", e, e.sequence) for e in events[:TIMELINE_LIMIT]),
        *(_entry(f.ts, "fill", f, f.pk) for f in fills[:TIMELINE_LIMIT]),
        *(_entry(a.started_at, "attempt", a, a.pk) for a in attempts[:TIMELINE_LIMIT]),
    ]
    entries.sort(key=lambda entry: entry.sort_key)
    counts = {"event": len(events), "fill": len(fills), "attempt": len(attempts)}
    return Timeline(order=order, entries=entries, counts=counts, truncated=truncated)


def _entry(at: datetime, kind: str, row, tie: int) -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, row=row, sort_key=(at, _KIND_ORDER[kind], tie))

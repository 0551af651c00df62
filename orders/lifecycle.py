"""The order state machine: THE transition table, and the only code that assigns Order.state.

Every change is a compare-and-set `UPDATE orders_order SET state=…, version=version+1 WHERE
id=… AND version=<read> AND state=<read>` and writes its OrderEvent in the same transaction.
Two processes racing on one order: exactly one UPDATE matches; the other gets StaleOrder and
re-reads.

Fills have their own small table (LATE_FILL_EDGES): a venue may report a trade after we
recorded the order CANCELED or EXPIRED (the fill happened before the cancel took effect), or
trade details after the venue already said FILLED. Such fills are applied, never dropped:
  * the Fill row is stored and filled_quantity / average_price are updated;
  * the state stays CANCELED (or EXPIRED) while the order is not completely filled, with an
    event CANCELED -> CANCELED, reason "late fill …";
  * a late fill that completes the quantity moves CANCELED/EXPIRED -> FILLED (the venue's truth:
    it filled before the cancel landed).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from monitoring import correlation
from monitoring.metrics import ORDER_TRANSITIONS
from orders.errors import IllegalTransition, StaleOrder
from orders.inserts import order_insert_with_event
from orders.models import Actor, Fill, Order, OrderEvent, OrderState

log = structlog.get_logger(__name__)
S = OrderState

# from-state -> the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    # Accepted and persisted by the API; no venue has acknowledged it. The self-edge records a
    # failover to another venue before the first send (venue fields change, state does not).
    S.PENDING_NEW: frozenset(
        {
            S.PENDING_NEW,
            S.SUBMIT_UNKNOWN,  # sent; timeout / 5xx / -1007: outcome unknown
            S.NEW,
            S.PARTIALLY_FILLED,  # acknowledged with an immediate partial fill
            S.FILLED,  # e.g. a market order filled in the acknowledgement
            S.CANCELED,  # BitMEX IOC/post-only remainder, or cancelled before it was sent
            S.EXPIRED,  # Binance IOC/FOK remainder
            S.REJECTED,  # the venue refused it (filters, balance)
            S.FAILED,  # never reached any venue (all refused before sending, deadline)
            S.PENDING_CANCEL,  # the client cancels before the venue's acknowledgement
        }
    ),
    # A submit was sent and its outcome is unknown; only reconciliation moves it: it adopts the
    # venue's state, or (proven absent) goes back to PENDING_NEW to resend with the same id, or
    # FAILED once the submit deadline passed.
    S.SUBMIT_UNKNOWN: frozenset(
        {
            S.PENDING_NEW,
            S.NEW,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELED,
            S.EXPIRED,
            S.REJECTED,
            S.FAILED,
        }
    ),
    # Acknowledged by the venue and resting.
    S.NEW: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.PENDING_CANCEL,
            S.PENDING_AMEND,
            S.CANCELED,  # cancelled by the venue (self-trade prevention, reconciliation)
            S.EXPIRED,
        }
    ),
    # Some quantity filled, the rest resting. The self-edge records a further partial fill.
    S.PARTIALLY_FILLED: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.PENDING_CANCEL,
            S.PENDING_AMEND,
            S.CANCELED,
            S.EXPIRED,
        }
    ),
    # A cancel was requested and is in flight. A fill meanwhile moves it to PARTIALLY_FILLED or
    # FILLED (cancel_requested_at stays set); a refused cancel goes back to NEW.
    S.PENDING_CANCEL: frozenset({S.CANCELED, S.FILLED, S.PARTIALLY_FILLED, S.NEW, S.EXPIRED}),
    # An amend (amend_quantity / amend_price) is in flight; the answer lands in NEW or
    # PARTIALLY_FILLED (amended or refused), a fill or a venue cancel may overtake it, and a
    # client cancel takes priority over it.
    S.PENDING_AMEND: frozenset(
        {S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.PENDING_CANCEL}
    ),
    # Terminal: the whole quantity filled.
    S.FILLED: frozenset(),
    # Terminal: cancelled at the venue (filled_quantity may be > 0).
    S.CANCELED: frozenset(),
    # Terminal: the venue refused the order.
    S.REJECTED: frozenset(),
    # Terminal: expired at the venue (IOC/FOK remainder, delivery).
    S.EXPIRED: frozenset(),
    # Terminal: never reached any venue.
    S.FAILED: frozenset(),
}

# Edges only apply_fill may take: fills reported after the order reached a terminal state.
LATE_FILL_EDGES: frozenset[tuple[str, str]] = frozenset(
    {
        (S.CANCELED, S.CANCELED),  # partial late fill: stays cancelled, quantity recorded
        (S.CANCELED, S.FILLED),  # the late fill completes the order
        (S.EXPIRED, S.EXPIRED),
        (S.EXPIRED, S.FILLED),
        (S.FILLED, S.FILLED),  # trade details after the venue reported FILLED
    }
)

TERMINAL_STATES: frozenset[str] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
ACTIVE_STATES: frozenset[str] = frozenset(TRANSITIONS) - TERMINAL_STATES
# Waiting on a venue answer (or on reconciliation, for SUBMIT_UNKNOWN).
IN_FLIGHT_STATES: frozenset[str] = frozenset(
    {S.PENDING_NEW, S.SUBMIT_UNKNOWN, S.PENDING_CANCEL, S.PENDING_AMEND}
)
# Columns a transition must never set through `fields`. (client_order_id may change in one
# case only: a Binance spot amend is a cancelReplace whose replacement carries a new id.)
_PROTECTED_FIELDS = frozenset(
    {"id", "pk", "state", "version", "account", "account_id", "created_at"}
)
_AVG_PLACES = Decimal("1e-18")


def can_transition(from_state: str, to_state: str, *, fill: bool = False) -> bool:
    """Whether the table has the edge; `fill=True` also allows the late-fill edges."""
    if to_state in TRANSITIONS.get(from_state, ()):
        return True
    return fill and (from_state, to_state) in LATE_FILL_EDGES


def transition(
    order: Order,
    to_state: str,
    *,
    actor: str,
    reason: str,
    correlation_id: str | None = None,
    payload: Any = None,
    fields: Mapping[str, Any] | None = None,
) -> Order:
    """Moves `order` (as read, with its version) to `to_state` and writes the event.

    Raises IllegalTransition when the table has no such edge and StaleOrder when the row moved
    since it was read (re-read and decide again). `fields` are other columns set atomically with
    the state (venue_order_id, filled_quantity, cancel_confirmed_at …). Returns `order`, updated.
    """
    return _transition(order, to_state, actor, reason, correlation_id, payload, fields, False)


def accept(
    *, actor: str, reason: str, correlation_id: str | None = None, payload: Any = None, **fields
) -> Order:
    """Creates an order in PENDING_NEW and writes its first event (from None, sequence 1)."""
    Actor(actor)
    if _PROTECTED_FIELDS.intersection(fields) - {"account", "account_id", "client_order_id"}:
        raise ValueError("accept() sets state and version itself")
    now = timezone.now()
    order = Order(state=S.PENDING_NEW, version=1, created_at=now, updated_at=now, **fields)
    event = OrderEvent(
        sequence=1,
        from_state=None,
        to_state=S.PENDING_NEW,
        reason=reason,
        actor=actor,
        correlation_id=correlation_id or correlation.current(),
        venue_payload=payload,
        created_at=now,
    )
    # One statement: atomic by itself, or part of the caller's transaction when there is one.
    order_insert_with_event(order, event)
    account_id = order.account_id
    transaction.on_commit(lambda: _after_commit(account_id, S.PENDING_NEW.value, actor))
    return order


def note(
    order: Order,
    *,
    actor: str,
    reason: str,
    correlation_id: str | None = None,
    payload: Any = None,
) -> OrderEvent:
    """Records an event that changes nothing (e.g. an operator asked for reconciliation)."""
    Actor(actor)
    with transaction.atomic():
        locked = Order.objects.select_for_update().only("id", "state").get(pk=order.pk)
        return _write_event(
            locked.pk, locked.state, locked.state, actor, reason, correlation_id, payload
        )


def apply_fill(
    order: Order,
    *,
    trade_id: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_asset: str | None,
    ts,
    actor: str,
    correlation_id: str | None = None,
    payload: Any = None,
) -> Order:
    """Records one venue trade; a trade_id already recorded for this venue API is ignored.

    filled_quantity becomes max(its current value, the sum of recorded fills), so cumulative
    quantities adopted from a venue status (transition fields) and trade reports never double
    count. average_price is the fills' volume-weighted average (harmonic for inverse contracts)
    when the fills explain the whole filled quantity, else the venue's reported average stays.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related("instrument")
        locked = locked.get(pk=order.pk)
        if not _insert_fill(locked, trade_id, quantity, price, fee, fee_asset, ts):
            log.info("fill_duplicate_ignored", order_id=locked.pk, trade_id=trade_id)
            _copy_into(order, locked)
            return order
        filled, average = _fill_totals(locked)
        to_state = _state_after_fill(locked.state, filled, locked.quantity)
        reason = f"fill {trade_id}: {quantity} @ {price}"
        if locked.state in TERMINAL_STATES:
            reason = f"late fill {trade_id}: {quantity} @ {price} after {locked.state}"
        fields = {"filled_quantity": filled, "average_price": average}
        _transition(locked, to_state, actor, reason, correlation_id, payload, fields, True)
    _copy_into(order, locked)
    return order


# --- internals ---------------------------------------------------------------------------------


def _transition(order, to_state, actor, reason, correlation_id, payload, fields, fill) -> Order:
    Actor(actor)  # ValueError for an unknown actor
    from_state = order.state
    if not can_transition(from_state, to_state, fill=fill):
        raise IllegalTransition(
            f"Order {order.pk} cannot go from {from_state} to {to_state}.",
            details={"state": from_state, "requested": str(to_state)},
        )
    fields = dict(fields or {})
    bad = _PROTECTED_FIELDS.intersection(fields)
    if bad:
        raise ValueError(f"transition() cannot set {sorted(bad)}")
    now = timezone.now()
    # Inside a caller's transaction no savepoint (two round trips): the UPDATE and the event
    # commit or roll back with the caller's work. A lost compare-and-set writes nothing and is
    # raised after the block, so the caller's transaction stays usable (it may re-read).
    with transaction.atomic(savepoint=False):
        updated = Order.objects.filter(pk=order.pk, version=order.version, state=from_state).update(
            state=to_state, version=F("version") + 1, updated_at=now, **fields
        )
        if updated == 1:
            _write_event(
                order.pk, from_state, to_state, actor, reason, correlation_id, payload, now
            )
            account_id = order.account_id
            transaction.on_commit(lambda: _after_commit(account_id, str(to_state), actor))
    if updated != 1:
        raise StaleOrder(
            f"Order {order.pk} changed since version {order.version} was read.",
            details={"version": order.version},
        )
    for name, value in fields.items():
        setattr(order, name, value)
    order.state, order.version, order.updated_at = str(to_state), order.version + 1, now
    log.info(
        "order_transition",
        order_id=order.pk,
        from_state=from_state,
        to_state=str(to_state),
        actor=actor,
        reason=reason,
    )
    return order


def _write_event(
    order_id, from_state, to_state, actor, reason, correlation_id, payload, now=None, sequence=None
):
    values = {
        "order_id": order_id,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "actor": actor,
        "correlation_id": correlation_id or correlation.current(),
        "venue_payload": payload,
        "created_at": now or timezone.now(),
    }
    if sequence is not None:  # a new order's first event
        return OrderEvent.objects.create(sequence=sequence, **values)
    return _insert_next_event(values)


# The next event of an order in one statement: the caller holds the order's row lock (it
# updated or locked the row in this transaction), so max(sequence) + 1 cannot race. Written
# out because it is on the path of every transition: the ORM needs a second query (or a
# subquery it compiles for ~2,500 Python calls) where this needs one and ~200.
_EVENT_FIELDS = (
    "order", "from_state", "to_state", "reason", "actor", "correlation_id", "venue_payload",
    "created_at",
)  # fmt: skip
_INSERT_NEXT_EVENT = (
    "INSERT INTO {table} (sequence, {columns}) "
    "SELECT COALESCE(MAX(sequence), 0) + 1, {params} FROM {table} WHERE order_id = %s "
    "RETURNING id, sequence"
)


def _insert_next_event(values: dict[str, Any]) -> OrderEvent:
    meta, quote = OrderEvent._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in _EVENT_FIELDS]
    sql = _INSERT_NEXT_EVENT.format(
        table=quote(meta.db_table),
        columns=", ".join(quote(f.column) for f in fields),
        params=", ".join(["%s"] * len(fields)),
    )
    params = [f.get_db_prep_save(values[f.attname], connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, values["order_id"]])
        pk, sequence = cursor.fetchone()
    event = OrderEvent(id=pk, sequence=sequence, **values)
    event._state.adding, event._state.db = False, connection.alias
    return event


def _after_commit(account_id: int, to_state: str, actor: str) -> None:
    from orders.cache import active_orders_invalidate

    ORDER_TRANSITIONS.labels(to_state=to_state, actor=actor).inc()
    active_orders_invalidate(account_id=account_id)


def _insert_fill(order, trade_id, quantity, price, fee, fee_asset, ts) -> bool:
    try:
        with transaction.atomic():
            Fill.objects.create(
                order=order,
                venue_api=order.venue_api,
                trade_id=trade_id,
                quantity=quantity,
                price=price,
                fee=fee,
                fee_asset=fee_asset,
                ts=ts,
            )
    except IntegrityError:
        return False
    return True


def _fill_totals(order: Order) -> tuple[Decimal, Decimal | None]:
    fills = list(order.fills.values_list("quantity", "price"))
    total = sum((q for q, _ in fills), Decimal(0))
    if total < order.filled_quantity:  # the venue's cumulative quantity knows more trades
        return order.filled_quantity, order.average_price
    if order.instrument.is_inverse:  # contracts are USD amounts: average = Σq / Σ(q/p)
        average = total / sum(q / p for q, p in fills)
    else:
        average = sum(q * p for q, p in fills) / total
    return total, average.quantize(_AVG_PLACES)


def _state_after_fill(state: str, filled: Decimal, quantity: Decimal) -> str:
    if filled >= quantity:
        return S.FILLED
    if state in (S.CANCELED, S.EXPIRED):
        return state
    return S.PARTIALLY_FILLED


def _copy_into(target: Order, source: Order) -> None:
    for field in Order._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))

"""Writes of the order domain: accept, amend, cancel, ask for reconciliation.

Each one validates, changes state through orders.lifecycle (compare-and-set, event in the same
transaction) and queues the venue work on the order's venue API queue once the transaction
commits. None of them calls a venue.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from exchanges.types import OrderType, Side, TimeInForce
from monitoring.metrics import ORDERS_ACCEPTED
from orders import lifecycle, tasks, validation
from orders.errors import (
    IdempotencyKeyReused,
    IllegalTransition,
    OrderInvalid,
    StaleOrder,
    VenueUnavailable,
)
from orders.models import Account, Actor, Instrument, Order, OrderEvent, OrderState
from orders.queueing import enqueue_order_task

log = structlog.get_logger(__name__)
S = OrderState
# A user request that lost a race with a worker's transition re-reads and tries this often.
_STALE_RETRIES = 3


def mint_client_order_id() -> str:
    """34 chars of [a-z0-9]: valid as Binance newClientOrderId and BitMEX clOrdID (<= 36)."""
    return "tp" + uuid.uuid4().hex


def order_create(
    *,
    account: Account,
    data: Mapping[str, Any],
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> Order:
    """Validates and accepts an order (PENDING_NEW) and queues its submit.

    With an idempotency key, a repeat of the same request returns the original order (its
    `idempotent_replay` attribute is True); the same key with another body is refused (422).
    """
    request = _normalize(data)
    fingerprint = _fingerprint(request)
    # No lookup of the key first: the unique constraint on (account, idempotency_key) finds a
    # repeat when the INSERT fails, and every other way out (invalid now, venue down) looks
    # for the original before refusing, so a repeat still answers with the original order.
    try:
        instrument, failover = _validate(request)
        order = _accept(
            account, instrument, request, failover, idempotency_key, fingerprint, correlation_id
        )
    except (OrderInvalid, VenueUnavailable, IntegrityError):
        # IntegrityError: this key's order was committed first (a repeat, or a concurrent one).
        original = _replay(account, idempotency_key, fingerprint) if idempotency_key else None
        if original is None:
            raise
        return original
    order.idempotent_replay = False
    return order


def _validate(request: dict[str, Any]) -> tuple[Instrument, list[str]]:
    instrument = validation.resolve_instrument(request["exchange"], request["symbol"])
    validation.check_order(
        instrument,
        order_type=request["type"],
        quantity=request["quantity"],
        price=request["price"],
    )
    failover = validation.check_failover(instrument, request["failover"])
    _check_venue_available(instrument, failover)
    return instrument, failover


def _check_venue_available(instrument, failover: list[str]) -> None:
    """Fail fast (503 venue_unavailable) when no venue the order may use accepts calls now.
    A closed breaker this process saw on Redis less than BREAKER_CACHE_SECONDS ago is taken
    as it was (no round trip), as the call path does: an opened one is seen within that time;
    an order accepted meanwhile meets the open breaker when its task submits it, as any order
    accepted just before the breaker opened does."""
    from reliability.breaker import breaker_for

    if breaker_for(instrument.venue_api).allows_calls_cached():
        return
    fallbacks = Instrument.objects.filter(
        venue__in=failover, symbol=instrument.symbol, active=True
    ).values_list("venue_api", flat=True)
    if any(breaker_for(api).allows_calls() for api in fallbacks):
        return  # the submit fails over before its first send
    raise VenueUnavailable(
        f"{instrument.venue_api} is unavailable (circuit breaker open)"
        + (" and so are the fallback venues" if failover else "; name fallback venues in failover"),
        details={"venue_api": instrument.venue_api, "failover": failover},
    )


def _accept(account, instrument, request, failover, idempotency_key, fingerprint, cid) -> Order:
    now = timezone.now()
    # No transaction block: lifecycle.accept writes the order and its first event in one
    # statement (atomic by itself), and the hooks below run once it has committed.
    order = lifecycle.accept(
        actor=Actor.API,
        reason="accepted by the API",
        correlation_id=cid,
        account=account,
        instrument=instrument,
        venue=instrument.venue,
        venue_api=instrument.venue_api,
        side=request["side"],
        type=request["type"],
        time_in_force=request["time_in_force"],
        quantity=request["quantity"],
        price=request["price"],
        client_order_id=mint_client_order_id(),
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        failover_venues=failover,
        submit_deadline=now + timedelta(seconds=settings.ORDER_SUBMIT_DEADLINE_SECONDS),
    )
    # the order_accepted line below stands for the enqueue's own (a failure is still logged)
    enqueue_order_task(tasks.submit_order, order=order, correlation_id=cid, log_enqueued=False)
    labels = {"venue": order.venue_api, "order_type": order.type}
    transaction.on_commit(lambda: ORDERS_ACCEPTED.labels(**labels).inc())
    log.info(
        "order_accepted",
        order_id=order.pk,
        client_order_id=order.client_order_id,
        venue_api=order.venue_api,
        symbol=instrument.symbol,
    )
    return order


def order_amend(
    *,
    order: Order,
    quantity: Decimal | str | None = None,
    price: Decimal | str | None = None,
    expected_version: int | None = None,
    actor: str,
    correlation_id: str | None = None,
) -> Order:
    """Requests a new quantity and/or price (-> PENDING_AMEND) and queues the amend.

    With expected_version (the API's If-Match) a changed order is a 409; without it a lost race
    with a worker is retried on the fresh row.
    """
    if quantity is None and price is None:
        raise OrderInvalid("quantity", "give a new quantity and/or price", rule="amend_empty")
    new_quantity = None if quantity is None else validation.to_decimal(quantity, "quantity")
    new_price = None if price is None else validation.to_decimal(price, "price")

    def attempt(current: Order) -> Order:
        if expected_version is not None and current.version != expected_version:
            raise StaleOrder(
                f"Order {current.pk} is at version {current.version}, not {expected_version}.",
                details={"version": current.version},
            )
        target_q, target_p = _amend_target(current, new_quantity, new_price)
        with transaction.atomic():
            lifecycle.transition(
                current,
                S.PENDING_AMEND,
                actor=actor,
                reason=f"amend requested: quantity {target_q}, price {target_p}",
                correlation_id=correlation_id,
                fields={"amend_quantity": target_q, "amend_price": target_p},
            )
            enqueue_order_task(tasks.amend_order, order=current, correlation_id=correlation_id)
        return current

    return _retry_stale(order, attempt, retry=expected_version is None)


def _amend_target(order: Order, quantity, price) -> tuple[Decimal, Decimal | None]:
    if order.type == OrderType.MARKET:
        raise OrderInvalid("type", "market orders cannot be amended", rule="amend_market")
    if not lifecycle.can_transition(order.state, S.PENDING_AMEND):
        raise IllegalTransition(
            f"Order {order.pk} is {order.state}: it cannot be amended now.",
            details={"state": order.state, "requested": S.PENDING_AMEND.value},
        )
    instrument = order.instrument
    validation.check_active(instrument)
    quantity = order.quantity if quantity is None else quantity
    price = order.price if price is None else price
    validation.check_order(instrument, order_type=order.type, quantity=quantity, price=price)
    if quantity < order.filled_quantity:
        raise OrderInvalid(
            "quantity",
            f"{validation.fmt(quantity)} is below the filled quantity "
            f"{validation.fmt(order.filled_quantity)}",
            rule="below_filled",
        )
    if quantity == order.quantity and price == order.price:
        raise OrderInvalid("quantity", "quantity and price are unchanged", rule="amend_unchanged")
    return quantity, price


def order_cancel(
    *,
    order: Order,
    actor: str,
    correlation_id: str | None = None,
    reason: str | None = None,
    payload: Any = None,
) -> Order:
    """Requests a cancel (-> PENDING_CANCEL) and queues it; already PENDING_CANCEL: no-op."""

    def attempt(current: Order) -> Order:
        if current.state == S.PENDING_CANCEL:
            return current
        if not lifecycle.can_transition(current.state, S.PENDING_CANCEL):
            why = (
                "its submit outcome is unknown until reconciliation resolves it"
                if current.state == S.SUBMIT_UNKNOWN
                else "it is no longer active"
            )
            raise IllegalTransition(
                f"Order {current.pk} is {current.state}: it cannot be cancelled ({why}).",
                details={"state": current.state, "requested": S.PENDING_CANCEL.value},
            )
        with transaction.atomic():
            lifecycle.transition(
                current,
                S.PENDING_CANCEL,
                actor=actor,
                reason=reason or "cancel requested",
                correlation_id=correlation_id,
                payload=payload,
                fields={"cancel_requested_at": current.cancel_requested_at or timezone.now()},
            )
            enqueue_order_task(tasks.cancel_order, order=current, correlation_id=correlation_id)
        return current

    return _retry_stale(order, attempt, retry=True)


def order_request_reconcile(
    *,
    order: Order,
    actor: str,
    reason: str | None = None,
    correlation_id: str | None = None,
    payload: Any = None,
) -> OrderEvent:
    """Queues reconciliation of one order, recorded as an event that changes nothing."""
    with transaction.atomic():
        event = lifecycle.note(
            order,
            actor=actor,
            reason=reason or "reconciliation requested",
            correlation_id=correlation_id,
            payload=payload,
        )
        enqueue_order_task(tasks.reconcile_order, order=order, correlation_id=correlation_id)
    return event


# --- helpers ---------------------------------------------------------------------------------


def _retry_stale(order: Order, attempt: Callable[[Order], Order], *, retry: bool) -> Order:
    for tries in range(_STALE_RETRIES):
        try:
            return attempt(order)
        except StaleOrder:
            if not retry or tries == _STALE_RETRIES - 1:
                raise
            order.refresh_from_db()
    raise AssertionError("unreachable")  # pragma: no cover


def _normalize(data: Mapping[str, Any]) -> dict[str, Any]:
    """The create request in canonical form (also what the idempotency fingerprint hashes)."""
    order_type = _choice(data.get("type"), "type", OrderType)
    tif = data.get("time_in_force")
    if order_type == OrderType.MARKET and tif:
        raise OrderInvalid(
            "time_in_force", "market orders take no time in force", rule="tif_forbidden_for_market"
        )
    if order_type == OrderType.LIMIT:
        tif = _choice(tif or TimeInForce.GTC, "time_in_force", TimeInForce)
    price = data.get("price")
    return {
        "exchange": str(data.get("exchange") or "").lower(),
        "symbol": str(data.get("symbol") or ""),
        "side": _choice(data.get("side"), "side", Side),
        "type": order_type,
        "quantity": validation.to_decimal(data.get("quantity"), "quantity"),
        "price": None if price is None else validation.to_decimal(price, "price"),
        "time_in_force": tif or None,
        "failover": [str(v).lower() for v in data.get("failover") or []],
    }


def _choice(value, field: str, enum_cls) -> str:
    try:
        return enum_cls(value).value
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise OrderInvalid(field, f"{value!r} is not one of {allowed}", rule="choice") from None


def _fingerprint(request: dict[str, Any]) -> str:
    canonical = {k: validation.fmt(v) if isinstance(v, Decimal) else v for k, v in request.items()}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(account: Account, key: str, fingerprint: str) -> Order | None:
    original = (
        Order.objects.select_related("instrument")
        .filter(account=account, idempotency_key=key)
        .first()
    )
    if original is None:
        return None
    if original.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.",
            details={"order_id": original.pk},
        )
    original.idempotent_replay = True
    return original

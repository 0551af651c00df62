"""Write-ahead attempt rows: one OrderAttempt per venue call that can create, amend or cancel.

    with write_ahead(order, operation="submit", request=summary) as calls:
        adapter.place_order(...)

Just before each HTTP exchange the adapter announces (exchanges.calls.observe_calls), a row
with outcome `pending` is inserted and COMMITTED; when the exchange ends the row gets its
outcome, HTTP status, duration, error class and code. A crash in between leaves the `pending`
row: "this request may have reached the venue". Calls refused before any exchange (breaker
open, rate budget) are recorded with `record_not_sent` as outcome `not_sent`.

A failed exchange is recorded at once. A successful one is recorded when the block ends,
together with what the venue answered if the caller set `calls.response` inside the block
(one UPDATE instead of two on every acknowledged order); a crash before that leaves the row
`pending`, as a crash during the exchange does, and the order goes to SUBMIT_UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from exchanges.calls import CallRecord, observe_calls
from monitoring import correlation
from orders.execution.signals import write_ahead_committed
from orders.models import Order, OrderAttempt
from reliability.errors import VenueError

log = structlog.get_logger(__name__)
Outcome = OrderAttempt.Outcome
Operation = OrderAttempt.Operation

# Outcomes after which the order provably did not reach the venue's engine.
NOT_PLACED = frozenset({Outcome.NOT_SENT, Outcome.REJECTED, Outcome.RETRYABLE, Outcome.FATAL})
# Outcomes after which the venue may hold the order.
MAYBE_PLACED = frozenset({Outcome.OK, Outcome.PENDING, Outcome.OUTCOME_UNKNOWN})
_WRITE_OPERATIONS = frozenset(op.value for op in Operation) - {Operation.QUERY}


@dataclass
class AttemptLog:
    """The attempts written inside one write_ahead block (call_id -> OrderAttempt pk)."""

    rows: dict[str, int] = field(default_factory=dict)
    last_id: int | None = None
    # What the venue answered (a summary, never secrets), kept on the last attempt.
    response: dict[str, Any] | None = None
    # Successful exchanges not written yet: attempt pk -> its finish fields.
    succeeded: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def wrote_any(self) -> bool:
        return bool(self.rows)


@contextmanager
def write_ahead(order: Order, *, operation: str, request: dict[str, Any]) -> Iterator[AttemptLog]:
    """Records every write call made inside the block, each committed before it is sent."""
    if connection.in_atomic_block:
        raise RuntimeError("write-ahead attempts must be committed: call outside a transaction")
    attempts = AttemptLog()

    def before(call: CallRecord) -> None:
        if call.operation not in _WRITE_OPERATIONS:
            return
        row = OrderAttempt.objects.create(
            order_id=order.pk,
            operation=operation,
            venue_api=call.venue_api,
            endpoint=f"{call.method} {call.endpoint}"[:128],
            client_order_id=call.client_order_id or order.client_order_id,
            started_at=call.started_at,
            correlation_id=call.correlation_id or correlation.current(),
            request=request,
        )  # autocommit: the row is durable before the request leaves
        attempts.rows[call.call_id] = row.pk
        attempts.last_id = row.pk
        write_ahead_committed.send(sender=OrderAttempt, attempt=row)

    def after(call: CallRecord) -> None:
        pk = attempts.rows.get(call.call_id)
        if pk is None:
            return
        if call.outcome == "ok":
            attempts.succeeded[pk] = _finish_fields(call)  # written when the block ends
        else:
            OrderAttempt.objects.filter(pk=pk).update(**_finish_fields(call))

    try:
        with observe_calls(on_start=before, on_finish=after):
            yield attempts
    except VenueError:
        _write_succeeded(attempts)
        raise
    except BaseException as exc:  # soft time limit, bug: the request may be out there
        _write_succeeded(attempts)
        if attempts.rows:
            OrderAttempt.objects.filter(
                pk__in=attempts.rows.values(), outcome=Outcome.PENDING
            ).update(
                outcome=Outcome.OUTCOME_UNKNOWN,
                finished_at=timezone.now(),
                error_class="outcome_unknown",
                error_message=f"interrupted: {type(exc).__name__}",
            )
        raise
    _write_succeeded(attempts, response=attempts.response)


def _write_succeeded(attempts: AttemptLog, *, response: dict[str, Any] | None = None) -> None:
    """Writes the successful exchanges' outcomes (the answer on the last attempt, if given)."""
    for pk, fields in attempts.succeeded.items():
        if response is not None and pk == attempts.last_id:
            fields = {**fields, "response": response}
        OrderAttempt.objects.filter(pk=pk).update(**fields)
    attempts.succeeded.clear()


def _finish_fields(call: CallRecord) -> dict[str, Any]:
    if call.outcome == "ok":
        outcome = Outcome.OK
    elif call.sent is False:
        outcome = Outcome.NOT_SENT
    else:
        outcome = Outcome(call.outcome)
    return {
        "outcome": outcome,
        "finished_at": timezone.now(),
        "http_status": call.http_status,
        "duration_ms": round((call.duration or 0.0) * 1000),
        "error_class": call.error_class.value if call.error_class else "",
        "error_code": "" if call.venue_code is None else str(call.venue_code)[:32],
        "error_message": (call.message or "")[:2000],
    }


def record_not_sent(
    order: Order, *, operation: str, error: VenueError, request: dict[str, Any]
) -> None:
    """A call refused before any exchange (breaker open, rate budget): nothing left."""
    if getattr(error, "call", None) is not None:
        return  # the exchange itself was recorded by write_ahead
    now = timezone.now()
    OrderAttempt.objects.create(
        order_id=order.pk,
        operation=operation,
        venue_api=order.venue_api,
        endpoint="(not sent)",
        client_order_id=order.client_order_id,
        started_at=now,
        finished_at=now,
        outcome=Outcome.NOT_SENT,
        error_class=error.error_class.value,
        error_code=type(error).__name__[:32],
        error_message=str(error)[:2000],
        duration_ms=0,
        correlation_id=correlation.current(),
        request=request,
    )


def unfinished_exists(*, operation: str = Operation.SUBMIT) -> Exists:
    """For Order querysets: does the order have an attempt still `pending` (annotate with it)?"""
    return Exists(
        OrderAttempt.objects.filter(
            order_id=OuterRef("pk"), operation=operation, outcome=Outcome.PENDING
        )
    )


def unfinished(order: Order, *, operation: str = Operation.SUBMIT) -> list[OrderAttempt]:
    """Attempts still `pending`: with the order lock held, their worker died mid-call."""
    return list(order.attempts.filter(operation=operation, outcome=Outcome.PENDING))


def mark_lost(attempts: list[OrderAttempt], *, why: str) -> None:
    OrderAttempt.objects.filter(pk__in=[a.pk for a in attempts], outcome=Outcome.PENDING).update(
        outcome=Outcome.OUTCOME_UNKNOWN,
        finished_at=timezone.now(),
        error_class="outcome_unknown",
        error_message=why,
    )


def may_be_at_venue(order: Order) -> bool:
    """Could any submit of this order have reached the venue? (False: provably not.)"""
    if order.venue_order_id:
        return True
    return order.attempts.filter(operation=Operation.SUBMIT, outcome__in=MAYBE_PLACED).exists()


def ever_sent(order: Order) -> bool:
    """Did any submit of this order leave the platform? (Failover is allowed only before.)"""
    return (
        order.attempts.filter(operation=Operation.SUBMIT).exclude(outcome=Outcome.NOT_SENT).exists()
    )


def last_send_at(order: Order) -> datetime | None:
    """When the latest submit that may have reached the venue ended (or began)."""
    attempt = (
        order.attempts.filter(operation=Operation.SUBMIT, outcome__in=MAYBE_PLACED)
        .order_by("-started_at")
        .first()
    )
    if attempt is None:
        return None
    return attempt.finished_at or attempt.started_at

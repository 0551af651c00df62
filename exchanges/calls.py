"""One record per HTTP exchange with a venue, and the hook that hands it to the caller.

Every exchange an adapter makes is logged as one structured `venue_call` line carrying the
correlation id, and offered to whoever asked to observe calls in the current context. (Metrics:
every exchange is one attempt of reliability.guard.guarded_call, which counts it in
VENUE_CALLS / VENUE_CALL_SECONDS / VENUE_ERRORS with venue, operation and outcome labels; the
adapters do not count again.) The execution layer uses this to write its
OrderAttempt rows without the adapters knowing about the database:

    from exchanges.calls import observe_calls

    def before(call: CallRecord):       # runs just before the request is sent;
        attempt_write_ahead(call)        # raise to stop it from being sent at all
    def after(call: CallRecord):        # runs when the exchange ended (ok or error)
        attempt_finish(call)

    with observe_calls(on_start=before, on_finish=after) as calls:
        adapter.place_order(request)     # may make several exchanges (retries, clock re-sync)
    calls                                # every finished CallRecord, in order

Both callbacks are optional. `on_start` receives the record with `outcome=None` and
`duration=None`; `on_finish` the same `call_id` completed. Observers nest (an outer and an inner
block both see the calls made inside the inner one) and are per context (thread / task), so
concurrent workers never see each other's calls. An exception raised by a callback propagates:
from `on_start` it means the request is never sent.

A VenueError raised by an adapter carries the record of the exchange that produced it as
`error.call` (None when no exchange happened) and the response headers as `error.headers`.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from monitoring import correlation
from monitoring.logging import log_event
from reliability.errors import ErrorClass

OK = "ok"


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    venue_api: str  # binance.spot | binance.usdm | binance.coinm | bitmex
    operation: str  # submit | amend | cancel | query | instruments | market_data
    method: str
    endpoint: str  # path only, never the query string (it carries the signature)
    started_at: datetime
    correlation_id: str | None
    client_order_id: str | None = None
    # Filled in when the exchange ends:
    duration: float | None = None  # seconds
    http_status: int | None = None
    outcome: str | None = None  # "ok" or an ErrorClass value
    error_class: ErrorClass | None = None
    venue_code: int | str | None = None  # -2010, "HTTPError", "ReadTimeout" ...
    message: str | None = None  # the venue's error message (never request data)
    retry_after: float | None = None  # seconds the venue asked to wait (429, 418, 503)
    sent: bool | None = None  # False when the request provably never left

    def finished(self, **fields) -> CallRecord:
        return CallRecord(
            call_id=self.call_id,
            venue_api=self.venue_api,
            operation=self.operation,
            method=self.method,
            endpoint=self.endpoint,
            started_at=self.started_at,
            correlation_id=self.correlation_id,
            client_order_id=self.client_order_id,
            **fields,
        )


# Call ids: a random prefix per process (renewed in a forked child) and a counter, 32 hex
# digits like a uuid4's, without a system call per venue call.
_call_ids = itertools.count()
_call_id_prefix = uuid.uuid4().hex[:20]


def new_call_id() -> str:
    return f"{_call_id_prefix}{next(_call_ids) & 0xFFFFFFFFFFFF:012x}"


def _new_call_id_prefix() -> None:
    global _call_id_prefix
    _call_id_prefix = uuid.uuid4().hex[:20]


os.register_at_fork(after_in_child=_new_call_id_prefix)


Callback = Callable[[CallRecord], None]


@dataclass(frozen=True)
class _Observer:
    on_start: Callback | None
    on_finish: Callback | None


_observers: contextvars.ContextVar[tuple[_Observer, ...]] = contextvars.ContextVar(
    "venue_call_observers", default=()
)


@contextmanager
def observe_calls(
    *, on_start: Callback | None = None, on_finish: Callback | None = None
) -> Iterator[list[CallRecord]]:
    """Collect (and optionally act on) every venue call made inside the block."""
    collected: list[CallRecord] = []

    def finish(record: CallRecord) -> None:
        collected.append(record)
        if on_finish is not None:
            on_finish(record)

    token = _observers.set((*_observers.get(), _Observer(on_start, finish)))
    try:
        yield collected
    finally:
        _observers.reset(token)


def current_correlation_id() -> str | None:
    return correlation.current()


def notify_start(record: CallRecord) -> None:
    for observer in _observers.get():
        if observer.on_start is not None:
            observer.on_start(record)


def notify_finish(record: CallRecord) -> None:
    """Log the finished record and hand it to the observers."""
    _log(record)
    if record.outcome == OK or record.error_class is ErrorClass.REJECTED:
        from exchanges.health import note_answered

        note_answered(record.venue_api)  # health's "last successful call"
    for observer in _observers.get():
        if observer.on_finish is not None:
            observer.on_finish(record)


def _log(record: CallRecord) -> None:
    fields = {
        "venue": record.venue_api,
        "operation": record.operation,
        "method": record.method,
        "endpoint": record.endpoint,
        "http_status": record.http_status,
        "duration_ms": round((record.duration or 0.0) * 1000, 1),
        "outcome": record.outcome,
        "correlation_id": record.correlation_id,
        "call_id": record.call_id,
    }
    if record.client_order_id:
        fields["client_order_id"] = record.client_order_id
    if record.outcome == OK:
        log_event(__name__, logging.INFO, "venue_call", fields)
        return
    fields.update(
        error_class=record.error_class.value if record.error_class else None,
        venue_code=record.venue_code,
        venue_message=(record.message or "")[:200],
        sent=record.sent,
        retry_after=record.retry_after,
    )
    log_event(__name__, logging.WARNING, "venue_call", fields)

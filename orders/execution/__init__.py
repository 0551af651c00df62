"""Execution: the services that make an order reach its venue exactly once and stay reconciled.

The order domain (orders/services.py) accepts, amends and cancels orders and queues a task on
the order's venue API queue; the tasks (orders/tasks.py) call one service here each:

    submit.order_submit          PENDING_NEW -> (write-ahead attempt) -> send -> classify -> state
    amend.order_amend_send       PENDING_AMEND -> amended (NEW / PARTIALLY_FILLED) or refused
    cancel.order_cancel_send     PENDING_CANCEL -> CANCELED (or FILLED when it filled first)
    reconcile.order_reconcile    one order: resolve SUBMIT_UNKNOWN, finish stuck operations,
                                 adopt the venue's state and fills
    reconcile.venue_reconcile    a pass over one venue API (beat and worker start)
    instruments.instruments_sync one venue API's instruments into the Instrument table

Every venue call that can create, amend or cancel an order is preceded by a COMMITTED
OrderAttempt row (attempts.write_ahead) and a per-order PostgreSQL advisory lock (locks.py)
serialises the workers touching one order: a `pending` attempt whose lock is free means the
worker that wrote it died, so its outcome is unknown.
"""

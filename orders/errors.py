"""Domain errors of the orders app; they leave the API in the one error shape (trading/errors.py)."""

from __future__ import annotations

from trading.errors import ApiError, Conflict, ServiceUnavailable, Unprocessable


class IllegalTransition(Conflict):
    """The transition table has no edge from the order's state to the requested one."""

    default_code = "illegal_transition"
    default_detail = "The order cannot make this transition from its current state."


class StaleOrder(Conflict):
    """The row moved (another process transitioned it, or If-Match named an old version)."""

    default_code = "version_conflict"
    default_detail = "The order changed meanwhile; read it again and retry."


class OrderInvalid(ApiError):
    """The order breaks a rule of its instrument or of the API; `rule` names which."""

    default_code = "validation_error"

    def __init__(self, field: str, message: str, *, rule: str):
        super().__init__(
            f"{field}: {message}", code="validation_error", details={field: [message], "rule": rule}
        )
        self.field = field
        self.rule = rule


class IdempotencyKeyReused(Unprocessable):
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


class VenueUnavailable(ServiceUnavailable):
    """The venue's circuit breaker refuses calls and the order names no fallback that accepts."""

    default_code = "venue_unavailable"
    default_detail = "The venue is unavailable right now; the order was not accepted."

"""Venue errors the adapters raise, refining reliability.errors' four classes.

Every subclass keeps exactly one ErrorClass (inherited), so the breaker, retries and router keep
deciding from the class; the subclasses only let the execution layer tell apart the answers it
handles specially (a duplicate client id means "already placed: reconcile", an unknown order
means "the venue does not know it").

Adapters attach two extra attributes to every VenueError they raise (see exchanges.calls):
`headers` (the response headers, or an empty dict when there was no response) so the rate budget
can correct itself from them, and `call` (the CallRecord of the HTTP exchange, or None when the
error arose before any exchange).
"""

from __future__ import annotations

from reliability.errors import (
    FatalError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    VenueError,
)

__all__ = [
    "AmendPartiallyFailedError",
    "BannedError",
    "ClockSkewError",
    "DuplicateOrderError",
    "FatalError",
    "InvalidRequestError",
    "OutcomeUnknownError",
    "RejectedError",
    "RetryableError",
    "UnknownOrderError",
    "VenueError",
    "VenueRateLimitError",
    "VenueUnavailableError",
]


class DuplicateOrderError(RejectedError):
    """The venue already holds an order with this client order id (Binance -2010 "Duplicate
    order sent.", futures -4116, BitMEX "Duplicate clOrdID"): reconcile, never re-mint."""


class UnknownOrderError(RejectedError):
    """The venue does not know the order (Binance -2011 "Unknown order sent.", -2013 "Order does
    not exist.", BitMEX "Not Found"/"Invalid orderID"). On a cancel it usually means the order is
    already finished (filled or canceled): query it to learn which."""


class AmendPartiallyFailedError(RejectedError):
    """Binance spot cancelReplace (409, -2021): the cancel went through, the new order did not
    (or the reverse). `canceled_order` holds the canceled original when the venue returned it."""

    canceled_order = None
    new_order = None


class InvalidRequestError(RejectedError):
    """The adapter refused to build the request (e.g. a quantity that is not a whole number of
    contracts, spot reduce-only). Nothing was sent."""

    def __init__(self, message: str, *, venue: str = "", code: str = "invalid_request"):
        super().__init__(message, venue=venue, code=code, sent=False)


class VenueRateLimitError(RetryableError):
    """The venue refused the request for rate (HTTP 429, -1003, -1015): nothing happened; wait
    `retry_after` seconds (when the venue said) before trying again."""


class VenueUnavailableError(RetryableError):
    """The venue said the request did not reach its engine (BitMEX 503 "overloaded", Binance
    futures 503 "Service Unavailable.", -1001): safe to resend after a pause."""


class ClockSkewError(RetryableError):
    """Binance -1021 / -5028: the timestamp fell outside recvWindow. Not executed; the adapter
    re-syncs its server-time offset and retries once before raising this."""


class BannedError(FatalError):
    """HTTP 418 (IP banned) or BitMEX 403 ban: stop calling until `retry_after` seconds pass."""

    ban = True  # guarded_call opens the breaker and the rate budget until the ban ends


class AuthError(FatalError):
    """Credentials refused (401, Binance -2014/-2015/-1022/-1002): nothing works until fixed."""


__all__ += ["AuthError"]

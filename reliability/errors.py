"""The error taxonomy every venue call is sorted into (shared/DESIGN.md §5).

Adapters (exchanges/) raise subclasses of VenueError with exactly one ErrorClass; the breaker,
the retry policies and the router decide from the class only, never from a message string.
"""

from __future__ import annotations

import enum


class ErrorClass(enum.StrEnum):
    RETRYABLE = "retryable"  # nothing happened at the venue; safe to try again (maybe later)
    REJECTED = "rejected"  # definitive business answer (filters, balance, unknown order)
    OUTCOME_UNKNOWN = "outcome_unknown"  # the request may have reached the engine
    FATAL = "fatal"  # auth failure or ban: stop calling this venue API


class VenueError(Exception):
    """Base of every classified venue failure."""

    error_class: ErrorClass = ErrorClass.RETRYABLE
    # True when the venue banned us (HTTP 418, BitMEX 403 ban): guarded_call then opens the
    # breaker and the rate budget until `retry_after` (or RATE_BAN_DEFAULT_SECONDS) passes.
    # Any error with HTTP status 418 counts as a ban too.
    ban: bool = False

    def __init__(
        self,
        message: str,
        *,
        venue: str = "",
        status: int | None = None,
        code: int | str | None = None,
        retry_after: float | None = None,
        sent: bool = True,
        payload: object = None,
        headers: object = None,
    ):
        super().__init__(message)
        self.message = message
        self.venue = venue
        self.status = status  # HTTP status, when there was a response
        self.code = code  # venue error code (-2010, "HTTPError", ...)
        self.retry_after = retry_after  # seconds the venue asked us to wait
        self.sent = sent  # False when the request provably never left (refused, breaker open)
        self.payload = payload
        # The response headers, when there was a response: the rate budget corrects itself from
        # them (X-MBX-USED-WEIGHT-1M, x-ratelimit-remaining, Retry-After). Any mapping works.
        self.headers = headers if headers is not None else {}

    @property
    def counts_as_breaker_failure(self) -> bool:
        """Business rejections never trip a breaker; everything else may."""
        return self.error_class is not ErrorClass.REJECTED

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"http={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        return " ".join(parts)


class RetryableError(VenueError):
    error_class = ErrorClass.RETRYABLE


class RejectedError(VenueError):
    error_class = ErrorClass.REJECTED


class OutcomeUnknownError(VenueError):
    error_class = ErrorClass.OUTCOME_UNKNOWN


class FatalError(VenueError):
    error_class = ErrorClass.FATAL


class BreakerOpenError(RetryableError):
    """Refused before sending: the venue API's circuit breaker is open."""

    def __init__(self, venue: str, *, retry_after: float | None = None, forced: bool = False):
        super().__init__(
            f"circuit breaker for {venue} is {'forced ' if forced else ''}open",
            venue=venue,
            retry_after=retry_after,
            sent=False,
        )
        self.forced = forced


class RateLimitedError(RetryableError):
    """Refused before sending: the shared rate budget has no room before the deadline."""

    def __init__(self, venue: str, *, retry_after: float | None = None, reason: str = "budget"):
        super().__init__(
            f"rate budget for {venue} exhausted ({reason})",
            venue=venue,
            retry_after=retry_after,
            sent=False,
        )
        self.reason = reason


class DeadlineExceededError(RetryableError):
    """Refused before sending: the caller's deadline passed before an attempt could start."""

    def __init__(self, venue: str, *, operation: str = ""):
        super().__init__(
            f"deadline passed before {operation or 'the call'} to {venue} could start",
            venue=venue,
            sent=False,
        )

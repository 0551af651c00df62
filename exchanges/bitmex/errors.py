"""BitMEX responses -> exactly one error class (shared/specs/EXCHANGES.md §4.3, §7).

Error body: {"error": {"message": "...", "name": "HTTPError" | "ValidationError" | ...}}.
TABLE is read top to bottom; the first matching rule wins; `error` applies to writes (POST, PUT,
DELETE /order), `read_error` to reads.
"""

from __future__ import annotations

import httpx

from exchanges.classify import SERVER_ERRORS, ResponseContext, Rule, first_match, parse_retry_after
from exchanges.errors import (
    AuthError,
    BannedError,
    ClockSkewError,
    DuplicateOrderError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    UnknownOrderError,
    VenueError,
    VenueRateLimitError,
    VenueUnavailableError,
)

# "retry after at least 500 milliseconds" (official python-swaggerpy README, HTTP 503)
OVERLOAD_RETRY_AFTER = 0.5

TABLE: tuple[Rule, ...] = (
    Rule(VenueRateLimitError, status=429, reason="rate limit: wait Retry-After seconds"),
    Rule(
        VenueUnavailableError,
        status=503,
        message="overloaded",
        reason="load shedding: the request did not reach the engine; retry after >= 500 ms",
    ),
    Rule(
        ClockSkewError,
        status=401,
        message="expired",
        reason="api-expires is in the past (clock skew or a request held too long)",
    ),
    Rule(AuthError, status=401, reason="invalid API key or signature"),
    Rule(BannedError, status=403, message="ban", reason="IP banned after too many errors"),
    Rule(AuthError, status=403, reason="forbidden: key lacks the permission"),
    Rule(DuplicateOrderError, message="duplicate clordid", reason="clOrdID in use"),
    Rule(UnknownOrderError, status=404, reason="order not found"),
    Rule(UnknownOrderError, message="not found", reason="order not found"),
    Rule(UnknownOrderError, message="invalid orderid", reason="unknown orderID"),
    Rule(UnknownOrderError, message="invalid origclordid", reason="unknown origClOrdID"),
    Rule(UnknownOrderError, message="unable to cancel order", reason="order already finished"),
    Rule(
        OutcomeUnknownError,
        read_error=RetryableError,
        status=SERVER_ERRORS,
        reason="5XX other than overload: may have reached the engine",
    ),
    Rule(RejectedError, status=range(400, 500), reason="validation / business rejection"),
    Rule(OutcomeUnknownError, read_error=RetryableError, reason="unclassified response"),
)


def _name_and_message(data) -> tuple[str | None, str]:
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return error.get("name"), str(error.get("message", ""))
        if isinstance(error, str):
            return None, error
        return None, str(data.get("_raw", ""))
    return None, ""


def classify(
    method: str,
    endpoint: str,
    status: int,
    data,
    *,
    write: bool,
    headers: httpx.Headers | None = None,
) -> VenueError | None:
    if status < 400:
        return None
    name, message = _name_and_message(data)
    ctx = ResponseContext("bitmex", method, endpoint, status, name, message, write)
    rule = first_match(TABLE, ctx)
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    if retry_after is None and rule.error is VenueUnavailableError:
        retry_after = OVERLOAD_RETRY_AFTER
    error = rule.error_for(ctx)(
        f"bitmex {method} {endpoint}: {message or rule.reason}",
        venue="bitmex",
        status=status,
        code=name,
        retry_after=retry_after,
        sent=True,
        payload=data,
    )
    error.reason = rule.reason
    return error


def classify_response(venue_api, request, response: httpx.Response, data) -> VenueError | None:
    """exchanges.http.ResponseClassifier for BitMEX."""
    return classify(
        request.method,
        request.path,
        response.status_code,
        data,
        write=request.write,
        headers=response.headers,
    )

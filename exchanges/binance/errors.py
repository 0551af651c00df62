"""Binance responses -> exactly one error class (shared/specs/EXCHANGES.md §2.2, §3, §7).

TABLE is read top to bottom; the first matching rule wins. `error` applies to writes (new order,
amend, cancel), `read_error` to reads. Transport failures are classified in exchanges.classify.
"""

from __future__ import annotations

import time

import httpx

from exchanges.classify import (
    SERVER_ERRORS,
    ResponseContext,
    Rule,
    ban_seconds_from_message,
    first_match,
    parse_retry_after,
)
from exchanges.errors import (
    AmendPartiallyFailedError,
    AuthError,
    BannedError,
    ClockSkewError,
    DuplicateOrderError,
    FatalError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
    UnknownOrderError,
    VenueError,
    VenueRateLimitError,
    VenueUnavailableError,
)

SPOT, USDM, COINM = "binance.spot", "binance.usdm", "binance.coinm"
FUTURES = (USDM, COINM)

TABLE: tuple[Rule, ...] = (
    # --- bans and rate limits: nothing executed ---
    Rule(BannedError, status=418, reason="IP auto-banned after ignoring 429s (2 min .. 3 days)"),
    Rule(VenueRateLimitError, status=429, reason="request weight / order count limit broken"),
    Rule(VenueRateLimitError, code=(-1003, -1015), reason="too many requests / new orders"),
    # --- auth and WAF: stop calling ---
    Rule(AuthError, status=401, reason="unauthorized"),
    Rule(
        AuthError,
        code=(-2014, -2015),
        reason="API-key format invalid / key, IP or permission refused",
    ),
    Rule(AuthError, code=(-1002, -1022), reason="unauthorized / invalid signature (wrong secret)"),
    Rule(FatalError, status=403, reason="WAF block"),
    # --- clock: not executed; the adapter re-syncs and retries once ---
    Rule(ClockSkewError, code=(-1021, -5028), reason="timestamp outside recvWindow"),
    # --- outcome unknown for writes (the engine may have acted) ---
    Rule(
        OutcomeUnknownError,
        read_error=RetryableError,
        code=(-1006, -1007, -1000),
        reason="unexpected response / backend timeout / unknown error: execution status unknown",
    ),
    # --- did not reach the engine: safe to resend ---
    Rule(
        VenueUnavailableError, code=-1001, reason="internal error; unable to process (not executed)"
    ),
    Rule(
        VenueUnavailableError,
        code=-1008,
        venue_apis=FUTURES,
        reason="futures: throttled by system-level protection (request failed)",
    ),
    Rule(
        OutcomeUnknownError,
        read_error=RetryableError,
        code=-1008,
        venue_apis=SPOT,
        reason="spot SERVER_BUSY: ambiguous in the docs, treated as unknown for writes",
    ),
    Rule(
        VenueUnavailableError,
        status=SERVER_ERRORS,
        venue_apis=FUTURES,
        message="service unavailable",
        reason="futures 503 'Service Unavailable.': 100 % failure, not executed",
    ),
    Rule(
        VenueUnavailableError,
        status=SERVER_ERRORS,
        venue_apis=FUTURES,
        message="internal error; unable to process",
        reason="futures 503 'Internal error; unable to process your request': failure",
    ),
    # --- business answers ---
    Rule(
        DuplicateOrderError, code=-2010, message="duplicate order", reason="client order id in use"
    ),
    Rule(DuplicateOrderError, code=-4116, reason="futures: clientOrderId is duplicated"),
    Rule(
        UnknownOrderError,
        code=(-2010, -2011, -2038),
        message="unknown order",
        reason="the engine does not know the order (cancel/amend of a finished or absent order)",
    ),
    Rule(UnknownOrderError, code=-2013, reason="Order does not exist."),
    Rule(
        AmendPartiallyFailedError,
        status=409,
        endpoints="/order/cancelReplace",
        reason="spot cancelReplace: one side succeeded",
    ),
    Rule(
        AmendPartiallyFailedError,
        code=-2021,
        endpoints="/order/cancelReplace",
        reason="cancel-replace partially failed",
    ),
    Rule(RejectedError, code=-2022, reason="cancel-replace failed (nothing changed)"),
    Rule(
        RejectedError, code=-2026, reason="order archived (canceled/expired, no fills, > 90 days)"
    ),
    Rule(RejectedError, code=(-2010, -2011, -2038), reason="rejected by the matching engine"),
    Rule(RejectedError, code=-1013, reason="filter failure (did not reach the engine)"),
    Rule(RejectedError, code=range(-1199, -1099), reason="request parameter error"),
    Rule(RejectedError, code=range(-2099, -2000), reason="order rejected"),
    Rule(
        RejectedError,
        code=range(-5999, -3999),
        venue_apis=FUTURES,
        reason="futures order rule (-4xxx, -5021 FOK, -5022 GTX, ...)",
    ),
    # --- gateway time-outs and server errors without a definitive answer ---
    Rule(
        OutcomeUnknownError,
        read_error=RetryableError,
        status=408,
        reason="futures: timeout waiting for the backend",
    ),
    Rule(
        OutcomeUnknownError,
        read_error=RetryableError,
        status=SERVER_ERRORS,
        reason="5XX: execution status unknown",
    ),
    # --- the rest of 4XX: definitive refusals ---
    Rule(RejectedError, status=range(400, 500), reason="request refused"),
    Rule(OutcomeUnknownError, read_error=RetryableError, reason="unclassified response"),
)


def _code_and_message(data) -> tuple[int | str | None, str]:
    if isinstance(data, dict):
        code = data.get("code")
        if isinstance(code, str) and code.lstrip("-").isdigit():
            code = int(code)
        return code, str(data.get("msg", data.get("_raw", "")))
    return None, ""


def classify(
    venue_api: str,
    method: str,
    endpoint: str,
    status: int,
    data,
    *,
    write: bool,
    headers: httpx.Headers | None = None,
    now: float | None = None,
) -> VenueError | None:
    """The error for a response, or None when it is a success."""
    code, message = _code_and_message(data)
    if status < 400 and not (isinstance(code, int) and code < 0):
        return None
    ctx = ResponseContext(venue_api, method, endpoint, status, code, message, write)
    rule = first_match(TABLE, ctx)
    cls = rule.error_for(ctx)
    now = time.time() if now is None else now
    retry_after = parse_retry_after((headers or {}).get("Retry-After"), now=now)
    if retry_after is None and cls is BannedError:
        retry_after = ban_seconds_from_message(message, now=now)
    error = cls(
        f"{venue_api} {method} {endpoint}: {message or rule.reason}",
        venue=venue_api,
        status=status,
        code=code,
        retry_after=retry_after,
        sent=True,
        payload=data,
    )
    error.reason = rule.reason
    return error


def classify_response(venue_api, request, response: httpx.Response, data) -> VenueError | None:
    """exchanges.http.ResponseClassifier for every Binance venue API."""
    return classify(
        venue_api,
        request.method,
        request.path,
        response.status_code,
        data,
        write=request.write,
        headers=response.headers,
    )

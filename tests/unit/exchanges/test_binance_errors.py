"""Binance classification table: every code EXCHANGES.md lists lands in exactly one class."""

from __future__ import annotations

import httpx
import pytest

from exchanges.binance.errors import TABLE, classify
from exchanges.errors import (
    AmendPartiallyFailedError,
    AuthError,
    BannedError,
    ClockSkewError,
    DuplicateOrderError,
    UnknownOrderError,
    VenueRateLimitError,
    VenueUnavailableError,
)
from reliability.errors import (
    ErrorClass,
    FatalError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)

SPOT, USDM, COINM = "binance.spot", "binance.usdm", "binance.coinm"
ORDER = "/api/v3/order"
FORDER = "/fapi/v1/order"
DORDER = "/dapi/v1/order"


def body(code, msg="x"):
    return {"code": code, "msg": msg}


# (venue_api, method, endpoint, http status, body, write) -> class
CASES = [
    # bans and rate limits
    (SPOT, "POST", ORDER, 418, body(-1003, "Way too much request weight used"), True, BannedError),
    (
        SPOT,
        "POST",
        ORDER,
        429,
        body(-1003, "Too much request weight used"),
        True,
        VenueRateLimitError,
    ),
    (USDM, "POST", FORDER, 429, body(-1015, "Too many new orders"), True, VenueRateLimitError),
    (SPOT, "POST", ORDER, 400, body(-1015, "Too many new orders"), True, VenueRateLimitError),
    # auth / WAF
    (SPOT, "GET", ORDER, 401, body(-2015, "Invalid API-key, IP, or permissions"), False, AuthError),
    (SPOT, "POST", ORDER, 400, body(-2014, "API-key format invalid."), True, AuthError),
    (USDM, "POST", FORDER, 401, body(-2015), True, AuthError),
    (
        SPOT,
        "POST",
        ORDER,
        400,
        body(-1022, "Signature for this request is not valid."),
        True,
        AuthError,
    ),
    (SPOT, "POST", ORDER, 400, body(-1002), True, AuthError),
    (SPOT, "POST", ORDER, 403, None, True, FatalError),
    # clock
    (
        SPOT,
        "POST",
        ORDER,
        400,
        body(-1021, "Timestamp for this request is outside of the recvWindow."),
        True,
        ClockSkewError,
    ),
    (
        USDM,
        "POST",
        FORDER,
        400,
        body(-5028, "Timestamp ... outside of the ME recvWindow."),
        True,
        ClockSkewError,
    ),
    # unknown outcome for writes, retryable for reads
    (
        SPOT,
        "POST",
        ORDER,
        500,
        body(-1007, "Timeout waiting for response from backend server."),
        True,
        OutcomeUnknownError,
    ),
    (SPOT, "GET", ORDER, 500, body(-1007), False, RetryableError),
    (
        SPOT,
        "POST",
        ORDER,
        500,
        body(-1006, "An unexpected response was received"),
        True,
        OutcomeUnknownError,
    ),
    (
        USDM,
        "DELETE",
        FORDER,
        400,
        body(-1000, "An unknown error occurred"),
        True,
        OutcomeUnknownError,
    ),
    (SPOT, "POST", ORDER, 502, None, True, OutcomeUnknownError),
    (SPOT, "GET", "/api/v3/openOrders", 503, None, False, RetryableError),
    (
        USDM,
        "POST",
        FORDER,
        503,
        body(-1000, "Unknown error, please check your request or try again later."),
        True,
        OutcomeUnknownError,
    ),
    (
        USDM,
        "POST",
        FORDER,
        503,
        {"msg": "Unknown error, please check your request or try again later."},
        True,
        OutcomeUnknownError,
    ),
    (USDM, "POST", FORDER, 408, None, True, OutcomeUnknownError),
    (
        COINM,
        "POST",
        DORDER,
        500,
        {"msg": "Request occur unknown error."},
        True,
        OutcomeUnknownError,
    ),
    (
        SPOT,
        "POST",
        ORDER,
        503,
        body(-1008, "Server is currently overloaded"),
        True,
        OutcomeUnknownError,
    ),
    # did not reach the engine
    (
        USDM,
        "POST",
        FORDER,
        503,
        body(-1008, "Request throttled by system-level protection."),
        True,
        VenueUnavailableError,
    ),
    (COINM, "POST", DORDER, 503, {"msg": "Service Unavailable."}, True, VenueUnavailableError),
    (
        USDM,
        "POST",
        FORDER,
        503,
        {"msg": "Internal error; unable to process your request. Please try again."},
        True,
        VenueUnavailableError,
    ),
    (
        SPOT,
        "POST",
        ORDER,
        500,
        body(-1001, "Internal error; unable to process your request."),
        True,
        VenueUnavailableError,
    ),
    # business answers
    (SPOT, "POST", ORDER, 400, body(-2010, "Duplicate order sent."), True, DuplicateOrderError),
    (
        USDM,
        "POST",
        FORDER,
        400,
        body(-4116, "ClientOrderId is duplicated."),
        True,
        DuplicateOrderError,
    ),
    (SPOT, "DELETE", ORDER, 400, body(-2011, "Unknown order sent."), True, UnknownOrderError),
    (USDM, "DELETE", FORDER, 400, body(-2011, "Unknown order sent."), True, UnknownOrderError),
    (SPOT, "GET", ORDER, 400, body(-2013, "Order does not exist."), False, UnknownOrderError),
    (COINM, "GET", DORDER, 400, body(-2013, "Order does not exist."), False, UnknownOrderError),
    (
        SPOT,
        "PUT",
        "/api/v3/order/amend/keepPriority",
        400,
        body(-2038, "Unknown order sent."),
        True,
        UnknownOrderError,
    ),
    (
        SPOT,
        "PUT",
        "/api/v3/order/amend/keepPriority",
        400,
        body(-2038, "Order amend (quantity increase) is not supported."),
        True,
        RejectedError,
    ),
    (
        SPOT,
        "POST",
        "/api/v3/order/cancelReplace",
        409,
        body(-2021, "Order cancel-replace partially failed."),
        True,
        AmendPartiallyFailedError,
    ),
    (
        SPOT,
        "POST",
        "/api/v3/order/cancelReplace",
        400,
        body(-2022, "Order cancel-replace failed."),
        True,
        RejectedError,
    ),
    (
        SPOT,
        "GET",
        ORDER,
        400,
        body(-2026, "Order was canceled or expired with no executed qty over 90 days ago"),
        False,
        RejectedError,
    ),
    (
        SPOT,
        "POST",
        ORDER,
        400,
        body(-2010, "Account has insufficient balance for requested action."),
        True,
        RejectedError,
    ),
    (
        SPOT,
        "POST",
        ORDER,
        400,
        body(-2010, "Order would immediately match and take."),
        True,
        RejectedError,
    ),
    (
        SPOT,
        "DELETE",
        ORDER,
        400,
        body(-2011, "Order was not canceled due to cancel restrictions."),
        True,
        RejectedError,
    ),
    (SPOT, "POST", ORDER, 400, body(-1013, "Filter failure: PRICE_FILTER"), True, RejectedError),
    (SPOT, "POST", ORDER, 400, body(-1013, "Filter failure: NOTIONAL"), True, RejectedError),
    (SPOT, "POST", ORDER, 400, body(-1121, "Invalid symbol."), True, RejectedError),
    (
        SPOT,
        "POST",
        ORDER,
        400,
        body(-1102, "Mandatory parameter 'price' was not sent"),
        True,
        RejectedError,
    ),
    (
        SPOT,
        "GET",
        "/api/v3/allOrders",
        400,
        body(-1127, "More than 24 hours between startTime and endTime."),
        False,
        RejectedError,
    ),
    (USDM, "POST", FORDER, 400, body(-2019, "Margin is insufficient."), True, RejectedError),
    (
        USDM,
        "POST",
        FORDER,
        400,
        body(-4164, "Order's notional must be no smaller than 5"),
        True,
        RejectedError,
    ),
    (USDM, "POST", FORDER, 400, body(-5021, "FOK order rejected"), True, RejectedError),
    (COINM, "POST", DORDER, 400, body(-5022, "GTX order would take"), True, RejectedError),
    (
        USDM,
        "POST",
        FORDER,
        400,
        body(-4015, "Client order id length should not be more than 36 chars"),
        True,
        RejectedError,
    ),
    (SPOT, "GET", "/api/v3/nope", 404, None, False, RejectedError),
]


@pytest.mark.parametrize(
    ("venue_api", "method", "endpoint", "status", "data", "write", "expected"), CASES
)
def test_it_classifies_each_documented_answer(
    venue_api, method, endpoint, status, data, write, expected
):
    error = classify(venue_api, method, endpoint, status, data, write=write)
    assert type(error) is expected
    assert error.status == status
    assert error.venue == venue_api
    assert error.sent is True
    assert error.error_class in ErrorClass


def test_it_returns_none_for_a_success():
    assert classify(SPOT, "POST", ORDER, 200, {"orderId": 1}, write=True) is None


def test_it_parses_retry_after_on_429():
    headers = httpx.Headers({"Retry-After": "7"})
    error = classify(SPOT, "POST", ORDER, 429, body(-1003), write=True, headers=headers)
    assert error.retry_after == 7.0
    assert error.error_class is ErrorClass.RETRYABLE


def test_it_reads_the_ban_end_from_the_418_message_when_there_is_no_header():
    now = 1_700_000_000.0
    message = "Way too much request weight used; IP banned until 1700000120000. Please use..."
    error = classify(SPOT, "GET", ORDER, 418, body(-1003, message), write=False, now=now)
    assert isinstance(error, FatalError)
    assert error.retry_after == pytest.approx(120.0)


def test_it_prefers_retry_after_on_418():
    headers = httpx.Headers({"Retry-After": "300"})
    error = classify(SPOT, "GET", ORDER, 418, body(-1003), write=False, headers=headers)
    assert error.retry_after == 300.0


def test_it_keeps_the_venue_code_and_payload():
    data = body(-2010, "Duplicate order sent.")
    error = classify(SPOT, "POST", ORDER, 400, data, write=True)
    assert error.code == -2010
    assert error.payload == data
    assert "Duplicate order sent." in str(error)
    assert isinstance(error, RejectedError)
    assert error.counts_as_breaker_failure is False


def test_it_reads_string_codes_as_numbers():
    error = classify(
        SPOT, "POST", ORDER, 400, {"code": "-2010", "msg": "Duplicate order sent."}, write=True
    )
    assert isinstance(error, DuplicateOrderError)


def test_it_treats_a_negative_code_in_a_2xx_as_an_error():
    error = classify(SPOT, "GET", ORDER, 200, body(-1007), write=False)
    assert isinstance(error, RetryableError)


def test_every_rule_says_why():
    assert all(rule.reason for rule in TABLE)

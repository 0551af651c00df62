"""BitMEX classification table."""

from __future__ import annotations

import httpx
import pytest

from exchanges.bitmex.errors import TABLE, classify
from exchanges.errors import (
    AuthError,
    BannedError,
    ClockSkewError,
    DuplicateOrderError,
    UnknownOrderError,
    VenueRateLimitError,
    VenueUnavailableError,
)
from reliability.errors import OutcomeUnknownError, RejectedError, RetryableError

OVERLOADED = "The system is currently overloaded. Please try again later."


def err(message, name="HTTPError"):
    return {"error": {"message": message, "name": name}}


CASES = [
    (
        "POST",
        "/api/v1/order",
        429,
        err("Rate limit exceeded, retry in 1 seconds."),
        True,
        VenueRateLimitError,
    ),
    ("POST", "/api/v1/order", 503, err(OVERLOADED), True, VenueUnavailableError),
    ("PUT", "/api/v1/order", 503, err(OVERLOADED), True, VenueUnavailableError),
    ("POST", "/api/v1/order", 503, err("Service unavailable"), True, OutcomeUnknownError),
    ("GET", "/api/v1/order", 503, err("Service unavailable"), False, RetryableError),
    ("POST", "/api/v1/order", 500, err("Server Error"), True, OutcomeUnknownError),
    ("POST", "/api/v1/order", 502, None, True, OutcomeUnknownError),
    ("POST", "/api/v1/order", 401, err("Invalid API Key."), True, AuthError),
    ("POST", "/api/v1/order", 401, err("Signature not valid."), True, AuthError),
    (
        "POST",
        "/api/v1/order",
        401,
        err("This request has expired - `expires` is in the past."),
        True,
        ClockSkewError,
    ),
    ("GET", "/api/v1/order", 403, err("Forbidden: your IP is banned"), False, BannedError),
    ("POST", "/api/v1/order", 403, err("Access Denied"), True, AuthError),
    (
        "POST",
        "/api/v1/order",
        400,
        err("Duplicate clOrdID", "ValidationError"),
        True,
        DuplicateOrderError,
    ),
    ("DELETE", "/api/v1/order", 404, err("Not Found"), True, UnknownOrderError),
    ("DELETE", "/api/v1/order", 400, err("Not Found"), True, UnknownOrderError),
    (
        "PUT",
        "/api/v1/order",
        400,
        err("Invalid orderID", "ValidationError"),
        True,
        UnknownOrderError,
    ),
    (
        "PUT",
        "/api/v1/order",
        400,
        err("Invalid origClOrdID", "ValidationError"),
        True,
        UnknownOrderError,
    ),
    ("PUT", "/api/v1/order", 400, err("Invalid ordStatus", "ValidationError"), True, RejectedError),
    ("POST", "/api/v1/order", 400, err("Invalid symbol", "ValidationError"), True, RejectedError),
    ("POST", "/api/v1/order", 400, err("Invalid price", "ValidationError"), True, RejectedError),
    ("POST", "/api/v1/order", 400, err("Invalid orderQty", "ValidationError"), True, RejectedError),
    (
        "POST",
        "/api/v1/order",
        400,
        err("Instrument expired", "ValidationError"),
        True,
        RejectedError,
    ),
    (
        "POST",
        "/api/v1/order",
        400,
        err("Account has insufficient Available Balance"),
        True,
        RejectedError,
    ),
    (
        "PUT",
        "/api/v1/order",
        400,
        err("Invalid amend: orderQty, leavesQty, price, stopPx unchanged"),
        True,
        RejectedError,
    ),
]


@pytest.mark.parametrize(("method", "endpoint", "status", "data", "write", "expected"), CASES)
def test_it_classifies_each_documented_answer(method, endpoint, status, data, write, expected):
    error = classify(method, endpoint, status, data, write=write)
    assert type(error) is expected
    assert error.venue == "bitmex"
    assert error.status == status
    assert error.sent is True


def test_it_returns_none_for_a_success():
    assert classify("POST", "/api/v1/order", 200, {"orderID": "x"}, write=True) is None


def test_it_parses_retry_after_on_429():
    headers = httpx.Headers({"Retry-After": "3"})
    error = classify("POST", "/api/v1/order", 429, err("Rate limit"), write=True, headers=headers)
    assert error.retry_after == 3.0


def test_it_waits_at_least_half_a_second_after_an_overload():
    error = classify("POST", "/api/v1/order", 503, err(OVERLOADED), write=True)
    assert error.retry_after == 0.5
    assert error.counts_as_breaker_failure is True


def test_it_keeps_the_error_name_as_code():
    error = classify(
        "POST", "/api/v1/order", 400, err("Duplicate clOrdID", "ValidationError"), write=True
    )
    assert error.code == "ValidationError"


def test_every_rule_says_why():
    assert all(rule.reason for rule in TABLE)

"""The redaction processor: secret fields, secrets inside strings, and the configured secret
values themselves, wherever they appear (messages, fields, tracebacks, stdlib %-args)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from monitoring.logging import (
    REDACTED,
    _scrub,
    mask_known_secrets,
    redact_secrets,
    register_secret_values,
)

SECRET = "s3cr3t-value-9f8e7d6c5b4a"


@pytest.fixture
def captured():
    """What the configured handler writes, through the configured formatter (the real chain)."""
    formatter = logging.getLogger().handlers[0].formatter
    assert isinstance(formatter, structlog.stdlib.ProcessorFormatter)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def test_it_drops_fields_named_like_secrets():
    event = redact_secrets(None, "info", {
        "event": "x", "api_key": "k", "headers": {"Authorization": "Bearer abc", "X-MBX-APIKEY": "k2"},
        "signature": "deadbeef", "password": "p", "venue": "bitmex",
    })  # fmt: skip
    assert event["api_key"] == REDACTED and event["signature"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "X-MBX-APIKEY": REDACTED}
    assert event["password"] == REDACTED and event["venue"] == "bitmex"


def test_it_masks_bearer_tokens_and_signed_query_strings_inside_text():
    event = redact_secrets(None, "info", {
        "event": "GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=abcdef0123 failed",
        "detail": ["Authorization: Bearer tok-123"],
    })  # fmt: skip
    assert "abcdef0123" not in event["event"] and "signature=" + REDACTED in event["event"]
    assert event["detail"] == ["Authorization: Bearer " + REDACTED]


def test_it_masks_registered_values_anywhere():
    register_secret_values(SECRET, "", None, "short")
    event = redact_secrets(
        None, "info", {"event": f"connect with {SECRET}!", "nested": {"a": (SECRET,)}}
    )
    assert event["event"] == f"connect with {REDACTED}!"
    assert event["nested"] == {"a": (REDACTED,)}
    assert mask_known_secrets("short word stays") == "short word stays"


def test_it_masks_a_value_even_in_its_json_escaped_form():
    tricky = 'pa"ss\\word-123456'
    register_secret_values(tricky)
    rendered = json.dumps({"event": tricky})
    assert tricky not in mask_known_secrets(rendered)
    assert json.dumps(tricky)[1:-1] not in mask_known_secrets(rendered)


def test_real_log_output_never_carries_a_registered_secret(captured):
    register_secret_values(SECRET)
    log = structlog.get_logger("tests.redaction")
    log.info("login", token=SECRET, note=f"key={SECRET}")
    logging.getLogger("tests.stdlib").warning("venue answered %s for %s", 401, SECRET)
    try:
        raise RuntimeError(f"signing failed with {SECRET}")
    except RuntimeError:
        log.exception("signing_failed")

    class Opaque:
        def __repr__(self):
            return f"<Opaque {SECRET}>"

    log.info("opaque", obj=Opaque())
    lines = captured()
    assert {line["event"] for line in lines} >= {"login", "signing_failed", "opaque"}
    assert any("venue answered 401 for" in line["event"] for line in lines)
    assert any("RuntimeError" in line.get("exception", "") for line in lines)
    for line in lines:
        assert SECRET not in json.dumps(line)


@pytest.mark.parametrize(
    "fields",
    [
        {"venue": "bitmex", "http_status": 200, "duration_ms": 1.5},  # nothing to mask
        {"venue": "bitmex", "detail": f"sent with {SECRET}"},  # a registered value
        {"url": "/api?symbol=X&signature=abc123", "n": 1},  # a signed query string
        {"header": "Authorization: BEARER tok", "api_key": "k"},  # a token; a secret field
    ],
)
def test_a_flat_line_is_redacted_as_the_full_walk_would(fields):
    register_secret_values(SECRET)
    event = {"event": "venue_call", **fields}
    assert redact_secrets(None, "info", dict(event)) == _scrub(dict(event))
    assert SECRET not in json.dumps(redact_secrets(None, "info", dict(event)))


def test_log_event_writes_the_line_structlog_would(captured):
    from monitoring import correlation
    from monitoring.logging import log_event

    register_secret_values(SECRET)
    correlation.bind("corr-42")
    structlog.contextvars.bind_contextvars(task_id="t-7")
    fields = {"venue": "binance.usdm", "endpoint": "/fapi/v1/order", "http_status": 200,
              "duration_ms": 1.5, "detail": f"sent with {SECRET}", "api_key": "k"}  # fmt: skip
    try:
        structlog.get_logger("exchanges.calls").info("venue_call", **fields)
        log_event("exchanges.calls", logging.INFO, "venue_call", dict(fields))
        log_event("exchanges.calls", logging.WARNING, "venue_call", {"outcome": "rejected"})
    finally:
        correlation.clear()
    via_structlog, fast, warning = captured()
    for line in (via_structlog, fast):
        line.pop("timestamp")
    assert fast == via_structlog
    assert fast["correlation_id"] == "corr-42" and fast["task_id"] == "t-7"
    assert fast["api_key"] == REDACTED and SECRET not in json.dumps(fast)
    assert warning["level"] == "warning" and warning["timestamp"].endswith("Z")


def test_log_event_honours_the_loggers_level(captured):
    from monitoring.logging import log_event

    logger = logging.getLogger("exchanges.calls")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        log_event("exchanges.calls", logging.INFO, "venue_call", {"venue": "bitmex"})
    finally:
        logger.setLevel(previous)
    assert captured() == []

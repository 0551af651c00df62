"""One correlation id per unit of work, from the HTTP request to the venue call.

The id lives in structlog's contextvars, so every log line carries it; Celery tasks receive it
in their headers (see trading/celery.py) and bind it before they run.
"""

from __future__ import annotations

import re
import uuid

import structlog

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_id() -> str:
    return uuid.uuid4().hex


def sanitize(candidate: str | None) -> str:
    """A client-supplied id is kept when it is short and plain, replaced otherwise."""
    if candidate and _VALID.match(candidate):
        return candidate
    return new_id()


def bind(correlation_id: str) -> None:
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)


def current() -> str | None:
    return structlog.contextvars.get_contextvars().get("correlation_id")


def clear() -> None:
    structlog.contextvars.clear_contextvars()

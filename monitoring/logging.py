"""structlog JSON logs, routed through stdlib logging so Django, Celery and gunicorn share them."""

from __future__ import annotations

import functools
import json
import logging
import logging.config
import re
import threading

import structlog

REDACTED = "[REDACTED]"
# Field names whose values are never written to a log.
_SECRET_KEYS = re.compile(
    r"(secret|password|passwd|signature|api[-_]?key|apikey|authorization|token|credential)",
    re.IGNORECASE,
)
# Values that look like a bearer header or a signed query string.
_SECRET_VALUES = [
    (re.compile(r"(?i)(bearer\s+)[^\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)((?:signature|api[-_]?key|secret)=)[^&\s\"']+"), r"\1" + REDACTED),
]


# The configured secret values themselves (venue keys and secrets, the Django secret key, ...),
# masked wherever they appear. Filled by register_secret_values() from settings at start-up.
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
_known_values: set[str] = set()
_known_pattern: re.Pattern | None = None
_known_lock = threading.Lock()


def register_secret_values(*values: str | None) -> None:
    """Masks these exact values in every log line from now on (empty/short values ignored)."""
    global _known_pattern
    with _known_lock:
        for value in values:
            if value and len(value) >= _MIN_SECRET_LENGTH:
                _known_values.add(value)
                _known_values.add(json.dumps(value)[1:-1])  # as it reads inside a JSON string
        if _known_values:
            ordered = sorted(_known_values, key=len, reverse=True)
            _known_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def mask_known_secrets(text: str) -> str:
    pattern = _known_pattern
    return pattern.sub(REDACTED, text) if pattern is not None else text


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    """Field names repeat endlessly: each is matched against _SECRET_KEYS once."""
    return _SECRET_KEYS.search(key) is not None


def _scrub_text(value: str) -> str:
    # Each pattern of _SECRET_VALUES needs "bearer" or "=" to match: skip the regex without.
    if "=" in value or "bearer" in value.lower():
        for pattern, repl in _SECRET_VALUES:
            value = pattern.sub(repl, value)
    return mask_known_secrets(value)


def _scrub(value):
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if _secret_key(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def _may_hold_secret(text: str) -> bool:
    """Could any pattern _scrub_text applies match inside text? (No false negatives: a match
    inside one field is a match inside all fields joined.)"""
    if ("=" in text or "bearer" in text.lower()) and any(
        pattern.search(text) for pattern, _repl in _SECRET_VALUES
    ):
        return True
    pattern = _known_pattern
    return pattern is not None and pattern.search(text) is not None


def redact_secrets(_logger, _method, event_dict):
    """structlog processor: drops secret fields and masks secrets inside strings."""
    # Most lines carry nothing to mask: one search over all top-level text fields joined
    # decides that, instead of three substitutions per field.
    texts, nested = [], False
    for value in event_dict.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict | list | tuple):
            nested = True
    if nested or _may_hold_secret("\x00".join(texts)):
        return _scrub(event_dict)
    return {k: (REDACTED if _secret_key(str(k)) else v) for k, v in event_dict.items()}


class _MaskedRenderer:
    """The last word: masks known secret values in the rendered line, whatever object (a repr,
    an exception's args) carried them past redact_secrets."""

    def __init__(self, renderer):
        self.renderer = renderer

    def __call__(self, logger, method, event_dict):
        rendered = self.renderer(logger, method, event_dict)
        return mask_known_secrets(rendered) if isinstance(rendered, str) else rendered


_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]

_configured = False


def _renderer(fmt: str):
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def _formatter(fmt: str) -> dict:
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _SHARED,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            _MaskedRenderer(_renderer(fmt)),
        ],
    }


def dict_config(*, level: str = "INFO", fmt: str = "json") -> dict:
    """The stdlib logging configuration: every logger through structlog, to stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": _formatter(fmt)},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.server": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "celery": {"level": level},
        },
    }


def gunicorn_log_config(*, level: str = "INFO", fmt: str = "json") -> dict:
    """gunicorn's `logconfig_dict`: the arbiter's own lines as JSON too (access log off)."""
    config = dict_config(level=level, fmt=fmt)
    config["loggers"] = {
        "gunicorn.error": {"handlers": ["stdout"], "level": level, "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    }
    return config


def configure(*, level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    logging.config.dictConfig(dict_config(level=level, fmt=fmt))
    structlog.configure(
        processors=[
            *_SHARED[:-1],
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

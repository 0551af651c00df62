"""structlog JSON logs, routed through stdlib logging so Django, Celery and gunicorn share them."""

from __future__ import annotations

import logging
import logging.config
import re

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


def _scrub(value):
    if isinstance(value, str):
        for pattern, repl in _SECRET_VALUES:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, dict):
        return {
            k: (REDACTED if _SECRET_KEYS.search(str(k)) else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_secrets(_logger, _method, event_dict):
    """structlog processor: drops secret fields and masks secrets inside strings."""
    return _scrub(event_dict)


_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]

_configured = False


def configure(*, level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "foreign_pre_chain": _SHARED,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        redact_secrets,
                        renderer,
                    ],
                }
            },
            "handlers": {
                "stdout": {"class": "logging.StreamHandler", "formatter": "structured"},
            },
            "root": {"handlers": ["stdout"], "level": level},
            "loggers": {
                "django.server": {"level": "WARNING"},
                "httpx": {"level": "WARNING"},
                "httpcore": {"level": "WARNING"},
                "celery": {"level": level},
            },
        }
    )
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

"""structlog JSON logs, routed through stdlib logging so Django, Celery and gunicorn share them."""

from __future__ import annotations

import functools
import json
import logging
import logging.config
import os
import re
import threading
import time
from datetime import UTC, datetime

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


@functools.lru_cache(maxsize=256)
def _secret_fields(keys: tuple) -> frozenset:
    """The secret field names among a line's keys (lines repeat their key sets endlessly)."""
    return frozenset(k for k in keys if _secret_key(str(k)))


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
    secret = _secret_fields(tuple(event_dict))
    if not secret:
        return dict(event_dict)
    return {k: (REDACTED if k in secret else v) for k, v in event_dict.items()}


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
_json_lines = False  # configure(fmt="json") ran: log_event() may render lines itself
_LEVEL_NAMES = {logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}


def _renderer(fmt: str):
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter; a line log_event() rendered already is written as it is."""

    def format(self, record: logging.LogRecord) -> str:
        rendered = getattr(record, "rendered_line", None)
        if rendered is not None:
            return rendered
        return super().format(record)


def _formatter(fmt: str) -> dict:
    return {
        "()": _Formatter,
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
    global _configured, _json_lines
    if _configured:
        return
    _configured = True
    _json_lines = fmt == "json"
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


@functools.lru_cache(maxsize=64)
def _stdlib_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def _json_fallback(value) -> str:
    return repr(value)


_ENCODER = json.JSONEncoder(default=_json_fallback)


class _Record(logging.LogRecord):
    """A LogRecord of a line log_event() rendered: the attributes handlers and formatters
    read, without LogRecord's per-record path and process look-ups."""

    def __init__(self, name: str, level: int, line: str):
        now_ns = time.time_ns()
        self.name, self.msg, self.args = name, line, ()
        self.levelname, self.levelno = logging.getLevelName(level), level
        self.pathname, self.filename, self.module = "(log_event)", "(log_event)", "log_event"
        self.exc_info = self.exc_text = self.stack_info = self.funcName = None
        self.lineno = 0
        self.created = now_ns / 1e9
        self.msecs = (now_ns % 1_000_000_000) // 1_000_000 + 0.0
        self.relativeCreated = (now_ns - logging._startTime * 1e9) / 1e6
        self.thread = threading.get_ident()
        self.threadName = threading.current_thread().name
        self.process, self.processName = _process()
        self.taskName = None
        self.rendered_line = line


_process_cache: tuple[int, str] | None = None


def _process() -> tuple[int, str]:
    """(pid, multiprocessing's process name), looked up once per process."""
    global _process_cache
    cached = _process_cache
    if cached is None or cached[0] != os.getpid():
        import multiprocessing

        cached = _process_cache = (os.getpid(), multiprocessing.current_process().name)
    return cached


def log_event(logger_name: str, level: int, event: str, fields: dict) -> None:
    """One structured line, as `structlog.get_logger(logger_name).<level>(event, **fields)`
    writes it (the same fields, context variables such as the correlation id, level, logger,
    ISO timestamp; the same redaction and masking), for lines written on every venue call.

    structlog's chain runs its processors, builds the record through stdlib's findCaller,
    then the formatter copies the record and runs its own processors; here the line is
    rendered once and handed to the same stdlib handlers pre-rendered (`_Formatter` writes it
    as it is). Before configure(fmt="json") ran, or for console output, structlog writes it.
    """
    logger = _stdlib_logger(logger_name)
    if not logger.isEnabledFor(level):
        return
    name = _LEVEL_NAMES.get(level)
    if not _json_lines or name is None:
        structlog.get_logger(logger_name).log(level, event, **fields)
        return
    event_dict = {
        **structlog.contextvars.get_contextvars(),
        **fields,
        "event": event,
        "level": name,
        "logger": logger_name,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    line = mask_known_secrets(_ENCODER.encode(redact_secrets(None, name, event_dict)))
    logger.handle(_Record(logger_name, level, line))

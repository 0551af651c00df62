"""structlog JSON logs, routed through stdlib logging so Django, Celery and gunicorn share them."""

from __future__ import annotations

import atexit
import functools
import json
import logging
import logging.config
import os
import queue
import re
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

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
    """structlog's formatter; a line log_event() collected is rendered here (once, on the
    writer thread when there is one), a line rendered already is written as it is."""

    def format(self, record: logging.LogRecord) -> str:
        rendered = getattr(record, "rendered_line", None)
        if rendered is not None:
            return rendered
        pending = getattr(record, "event_dict", None)
        if pending is not None:
            record.rendered_line = _render(record)
            return record.rendered_line
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


class _Flush:
    """A marker on the writer's queue: set once every record queued before it is written."""

    def __init__(self):
        self.done = threading.Event()


class _Writer:
    """Log lines leave the calling thread as records; one daemon thread per process renders
    and writes them, in the order they were logged (the queue is FIFO and every record the
    root logger handles goes through it). A venue call or a request then pays for collecting
    its fields and a queue put, not for JSON encoding, redaction and the write to stdout.

    What the calling thread still does: structlog's own chain (context variables and the
    timestamp are taken at the call), stdlib %-formatting of foreign records (their arguments
    may change once the call returns; they are formatted in full there), and, with more than
    MAX_QUEUED records waiting, the whole write itself (back-pressure instead of memory).
    Lines are flushed at exit (atexit), on flush() (a Celery pool child calls it before it
    leaves through os._exit) and survive a fork: the child starts its own thread and queue,
    and no fork happens in the middle of a write (the thread holds `_writing` while writing,
    and the fork waits for it).
    """

    MAX_QUEUED = 10_000
    # The thread wakes this often and writes what was queued meanwhile: a record put wakes
    # nothing (a wake-up per line cost a venue call more than the rendering it saved).
    INTERVAL = 0.02

    def __init__(self, handlers: list[logging.Handler], *, interval: float = INTERVAL):
        self.handlers = handlers
        self.interval = interval
        self._writing = threading.Lock()
        self._start()

    def _start(self) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        get = self.queue.get_nowait
        while True:
            time.sleep(self.interval)
            batch: list[logging.LogRecord] = []
            while True:
                try:
                    item = get()
                except queue.Empty:
                    break
                if item is None or isinstance(item, _Flush):
                    self.write_batch(batch)
                    batch = []
                    if item is None:
                        return
                    item.done.set()
                    continue
                batch.append(item)
            self.write_batch(batch)

    def write(self, record: logging.LogRecord) -> None:
        for handler in self.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)

    def write_batch(self, records: list[logging.LogRecord]) -> None:
        """The lines queued since the last wake-up, in order. A plain StreamHandler (stdout)
        gets them in one write and one flush: a write per line is a system call per line,
        and each lets go of the GIL, which the thread then has to win back from the callers."""
        if not records:
            return
        with self._writing:
            for handler in self.handlers:
                if type(handler) is logging.StreamHandler:
                    _write_lines(handler, records)
                else:
                    for record in records:
                        if record.levelno >= handler.level:
                            handler.handle(record)

    def put(self, record: logging.LogRecord) -> None:
        if self.pid != os.getpid() or not self.thread.is_alive():
            with self._writing:  # no thread here (a fork without the hook, interpreter exit)
                self.write(record)
        elif self.queue.qsize() > self.MAX_QUEUED:
            self.flush(timeout=1.0)
            with self._writing:
                self.write(record)
        else:
            self.queue.put(record)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every line queued so far is written (True), or timeout (False)."""
        if self.pid != os.getpid() or not self.thread.is_alive():
            return True
        marker = _Flush()
        self.queue.put(marker)
        return marker.done.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if self.pid == os.getpid() and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join(timeout)

    # os.register_at_fork hooks
    def before_fork(self) -> None:
        self._writing.acquire()

    def after_fork_in_parent(self) -> None:
        self._writing.release()

    def after_fork_in_child(self) -> None:
        self._writing = threading.Lock()
        self._start()  # the parent's queue stays with the parent, which writes its lines


def _write_lines(handler: logging.StreamHandler, records: list[logging.LogRecord]) -> None:
    """What handler.handle() does for each record (level, filters, format, a failing record
    reported through handleError and skipped), with the lines written together."""
    lines = []
    for record in records:
        if record.levelno < handler.level or (handler.filters and not handler.filter(record)):
            continue
        try:
            lines.append(handler.format(record) + handler.terminator)
        except Exception:
            handler.handleError(record)
    if not lines:
        return
    with handler.lock:
        try:
            handler.stream.write("".join(lines))
            handler.flush()
        except Exception:
            handler.handleError(records[-1])


class _QueueHandler(logging.Handler):
    """The root logger's one handler when lines are written on the writer thread."""

    def __init__(self, writer: _Writer, formatter: logging.Formatter):
        super().__init__()
        self.writer = writer
        self.setFormatter(formatter)

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: the queue is thread-safe, and a handler lock held across a fork
        # is the hazard the writer avoids.
        if self.filters and not self.filter(record):
            return False
        if not _deferrable(record):
            try:  # rendered now; the record itself stays as it is for any other handler
                record.rendered_line = self.format(record)
            except Exception:
                self.handleError(record)
                return False
        self.writer.put(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() is used
        self.writer.put(record)


def _deferrable(record: logging.LogRecord) -> bool:
    """Can this record be rendered on the writer thread and read the same? A log_event()
    record and a plain structlog line can, when their values are plain (their fields, context
    variables and timestamp are in their event dict already). A foreign (stdlib) record cannot: its arguments may change
    and structlog's pre-chain would read the writer thread's context variables and clock; a
    line with a traceback cannot either (structlog takes exc_info=True as sys.exc_info() of
    the thread that renders it)."""
    pending = getattr(record, "event_dict", None)
    if pending is not None:
        return _flat(pending)
    msg = record.msg
    return (
        isinstance(msg, dict)
        and hasattr(record, "_logger")  # structlog's wrap_for_formatter put it there
        and not record.exc_info
        and "exc_info" not in msg
        and "exception" not in msg
        and "stack_info" not in msg
        and _flat(msg)
    )


def _flat(event_dict: dict) -> bool:
    """No value the caller could still change (a list, a dict, any object but a str, number,
    Decimal, bool, None, datetime, date or UUID): such a line is rendered at the call."""
    return all(type(value) in _IMMUTABLE for value in event_dict.values())


_IMMUTABLE = frozenset({str, int, float, bool, type(None), Decimal, datetime, date, UUID})


_writer: _Writer | None = None


def flush(timeout: float = 5.0) -> bool:
    """Every log line logged so far is written (True), or timeout passed (False)."""
    writer = _writer
    return True if writer is None else writer.flush(timeout)


def output_handlers() -> list[logging.Handler]:
    """The handlers that write the lines: the writer thread's when lines are written on it,
    else the root logger's. (Redirect a process's lines with `setStream` on these: the root
    logger's one handler is only the queue when the writer thread is on.)"""
    writer = _writer
    return list(writer.handlers) if writer is not None else list(logging.getLogger().handlers)


def _write_on_a_thread() -> None:
    """Moves the root logger's handlers behind a _Writer (see there)."""
    global _writer
    root = logging.getLogger()
    handlers = list(root.handlers)
    if not handlers:
        return
    _writer = _Writer(handlers)
    for handler in handlers:
        root.removeHandler(handler)
    root.addHandler(_QueueHandler(_writer, handlers[0].formatter))
    os.register_at_fork(
        before=_writer.before_fork,
        after_in_parent=_writer.after_fork_in_parent,
        after_in_child=_writer.after_fork_in_child,
    )
    atexit.register(_writer.stop)


def configure(*, level: str = "INFO", fmt: str = "json", threaded: bool = True) -> None:
    global _configured, _json_lines
    if _configured:
        return
    _configured = True
    _json_lines = fmt == "json"
    logging.config.dictConfig(dict_config(level=level, fmt=fmt))
    if threaded:
        _write_on_a_thread()
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
    """A LogRecord of a line log_event() collected: the attributes handlers and formatters
    read, without LogRecord's per-record path and process look-ups. The line itself is
    rendered from event_dict by the formatter (_Formatter), on the writer thread."""

    def __init__(self, name: str, level: int, event_dict: dict):
        self.created_ns = now_ns = time.time_ns()
        self.name, self.msg, self.args = name, event_dict.get("event"), ()
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
        self.event_dict = event_dict
        self.rendered_line = None


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
    then the formatter copies the record and runs its own processors; here the calling thread
    only collects the fields (context variables and timestamp as of the call) into a record,
    and `_Formatter` renders the line once, on the writer thread (see _Writer). Before
    configure(fmt="json") ran, or for console output, structlog writes it.
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
    }
    logger.handle(_Record(logger_name, level, event_dict))


def _render(record: _Record) -> str:
    """The JSON line of a log_event() record: its fields and the time it was logged at,
    redacted, encoded, known secret values masked."""
    event_dict = record.event_dict
    event_dict["timestamp"] = _iso(record.created_ns)
    level = event_dict.get("level", "info")
    return mask_known_secrets(_ENCODER.encode(redact_secrets(None, level, event_dict)))


def _iso(ns: int) -> str:
    """An ISO 8601 UTC time with microseconds, as structlog's TimeStamper(fmt="iso") writes."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return moment.isoformat().replace("+00:00", "Z")

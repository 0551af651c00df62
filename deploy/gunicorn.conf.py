"""gunicorn settings for the web process (local and container)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gunicorn.glogging import Logger

from monitoring.logging import gunicorn_log_config


class NoAccessLogger(Logger):
    """gunicorn's logger without the access log, which is off (the app logs one structured line
    per request): with logconfig_dict set, gunicorn would still format every request's access
    atoms only for a logger that drops them (~0.2 ms of CPU per request)."""

    def access(self, resp, req, environ, request_time) -> None:
        return None


bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs one structured line per request
logger_class = NoAccessLogger
errorlog = "-"
# The arbiter's own lines (boot, worker exits, timeouts) as JSON, like the app's.
logconfig_dict = gunicorn_log_config(
    level=os.environ.get("LOG_LEVEL", "INFO"), fmt=os.environ.get("LOG_FORMAT", "json")
)
control_socket_disable = True  # several gunicorns per user (make run beside tests) must not clash
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "0"))
max_requests_jitter = 50


# Each worker imports the API before its first request and freezes what it loaded, so the
# garbage collector's full collections skip it (trading/warmup.py). 0 turns it off.
gc_freeze = os.environ.get("WEB_GC_FREEZE", "1") != "0"


def post_worker_init(worker):
    if gc_freeze:
        from trading.warmup import warm_up_and_freeze

        worker.log.info("worker_gc_frozen: %d objects", warm_up_and_freeze())


def child_exit(server, worker):
    # Multiprocess metrics: drop the live gauges of a dead worker. Guarded: without the env var
    # mark_process_dead raises inside the arbiter and takes the master down.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

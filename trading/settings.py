"""Settings for every stage, read from the environment and validated at import.

TRADING_STAGE chooses the stage: local (make run), test (make test) or production. A missing or
bad variable stops the process with an error that names it (see trading/env.py). The README
lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from trading import aws_secrets
from trading.env import (
    EnvError,
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Secrets from AWS SSM Parameter Store (when AWS_SSM_PARAMETER_PATH is set) into the
# environment, before anything below reads it. Values are never logged.
aws_secrets.load_parameters()

STAGE = env_str("TRADING_STAGE", choices=("local", "test", "production"))
PRODUCTION = STAGE == "production"

_DEV_SECRET = "insecure-dev-only-key-not-for-production"  # noqa: S105 - refused in production
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET if not PRODUCTION else "")
DEBUG = env_bool("DJANGO_DEBUG", STAGE == "local")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

if PRODUCTION:
    if DEBUG:
        raise EnvError("DJANGO_DEBUG", "must be false in production")
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50:
        raise EnvError("DJANGO_SECRET_KEY", "must be set to a random value of 50+ characters")
    if not ALLOWED_HOSTS:
        raise EnvError("DJANGO_ALLOWED_HOSTS", "must list the hosts served in production")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "monitoring",
    "reliability",
    "exchanges",
    "orders",
]

MIDDLEWARE = [
    # django-prometheus's request metrics, labelled children cached (monitoring/middleware.py)
    "monitoring.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "monitoring.middleware.CorrelationIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "monitoring.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "trading.urls"
WSGI_APPLICATION = "trading.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- PostgreSQL (the only database, tests included) ---------------------------------------
DATABASES = {
    "default": {
        "ENGINE": "trading.db",
        **database_from_url("DATABASE_URL"),
        # Seconds a connection is kept between requests; 0 closes it after each request.
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, min_value=0),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3, min_value=1)},
    }
}
if STAGE == "test":
    # The test runner empties tables with TRUNCATE between transactional tests; order events
    # refuse TRUNCATE unless the session allows it (orders/migrations/0003_*).
    DATABASES["default"]["OPTIONS"]["options"] = "-c orders.allow_event_truncate=on"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker (db from REDIS_URL), cache (+1), shared reliability state (+2) ----------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))


def _redis_db(url: str, offset: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + offset}"))


REDIS_CACHE_URL = _redis_db(REDIS_URL, 1)
REDIS_STATE_URL = _redis_db(REDIS_URL, 2)
# Socket timeouts for every Redis client: a dead Redis must not hang a request.
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 0.5)

CACHES = {
    "default": {
        "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # A cache outage degrades to "miss" instead of failing the request.
            "IGNORE_EXCEPTIONS": True,
        },
        "KEY_PREFIX": "trading",
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # tasks report through PostgreSQL, not a result store
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Soft limit raises SoftTimeLimitExceeded in the task; the hard limit kills the child.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 30, min_value=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 45, min_value=2)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise EnvError("CELERY_TASK_TIME_LIMIT", "must be greater than CELERY_TASK_SOFT_TIME_LIMIT")
# Redis broker: a task not acked within this many seconds is redelivered (must exceed the hard limit).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 4}
CELERY_TASK_DEFAULT_QUEUE = "default"
# One queue per venue API (bulkheads) plus default.
VENUE_APIS = ("binance.spot", "binance.usdm", "binance.coinm", "bitmex")
CELERY_TASK_QUEUES_NAMES = ("default", *VENUE_APIS)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task events (received, started, succeeded) are three broker publishes per task in the worker's
# main process, the first one before the task is handed to a pool child; nothing here consumes
# them. On for Flower and the like (or at run time: `celery -A trading control enable_events`).
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)
# A worker keeps its PostgreSQL connection between tasks (under CONN_MAX_AGE and the health
# check, trading/celery_db.py) and Celery closes it anyway after this many tasks. 0: Celery's
# default, a new connection for every task.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000, min_value=0)
# A task-sent event is one more broker publish per queued task (an extra Redis round trip and
# ~1 ms of CPU on every order accepted); nothing here consumes them. On for Flower and the like.
CELERY_TASK_SEND_SENT_EVENT = env_bool("CELERY_TASK_SEND_SENT_EVENT", False)
# Tests run tasks only where a real worker runs them; eager mode is never used.
CELERY_TASK_ALWAYS_EAGER = False
# Seconds between beat heartbeats (health reports beat down after 3 missed beats).
BEAT_HEARTBEAT_SECONDS = env_int("BEAT_HEARTBEAT_SECONDS", 10, min_value=1)
CELERY_BEAT_SCHEDULE: dict = {
    "beat-heartbeat": {
        "task": "monitoring.tasks.beat_heartbeat",
        "schedule": float(BEAT_HEARTBEAT_SECONDS),
        "options": {"queue": "default", "expires": BEAT_HEARTBEAT_SECONDS},
    },
}

# --- Venues (the emulator by default; testnet/production by configuration) ----------------
BINANCE_SPOT_BASE_URL = env_url(
    "BINANCE_SPOT_BASE_URL", "http://127.0.0.1:9101", schemes=("http", "https")
)
BINANCE_USDM_BASE_URL = env_url(
    "BINANCE_USDM_BASE_URL", "http://127.0.0.1:9101", schemes=("http", "https")
)
BINANCE_COINM_BASE_URL = env_url(
    "BINANCE_COINM_BASE_URL", "http://127.0.0.1:9101", schemes=("http", "https")
)
BITMEX_BASE_URL = env_url("BITMEX_BASE_URL", "http://127.0.0.1:9102", schemes=("http", "https"))
BINANCE_API_KEY = env_str("BINANCE_API_KEY", "")
BINANCE_API_SECRET = env_str("BINANCE_API_SECRET", "")
BITMEX_API_KEY = env_str("BITMEX_API_KEY", "")
BITMEX_API_SECRET = env_str("BITMEX_API_SECRET", "")
# Venue HTTP clients: one pooled httpx.Client per venue API per process (exchanges/registry.py).
# Seconds to open a TCP connection; a refused/timed-out connect is "not sent" (may fail over).
VENUE_HTTP_CONNECT_TIMEOUT = env_float("VENUE_HTTP_CONNECT_TIMEOUT", 3.0, min_value=0.05)
# Seconds to wait for the response; past it a write's outcome is unknown (Binance's own is 10 s).
VENUE_HTTP_READ_TIMEOUT = env_float("VENUE_HTTP_READ_TIMEOUT", 10.0, min_value=0.05)
# Seconds to send the request.
VENUE_HTTP_WRITE_TIMEOUT = env_float("VENUE_HTTP_WRITE_TIMEOUT", 5.0, min_value=0.05)
# Seconds to wait for a free pooled connection (then "not sent").
VENUE_HTTP_POOL_TIMEOUT = env_float("VENUE_HTTP_POOL_TIMEOUT", 2.0, min_value=0.05)
# Connections per venue API per process, and how many idle ones are kept.
VENUE_HTTP_MAX_CONNECTIONS = env_int("VENUE_HTTP_MAX_CONNECTIONS", 10, min_value=1)
VENUE_HTTP_MAX_KEEPALIVE = env_int("VENUE_HTTP_MAX_KEEPALIVE", 5, min_value=0)
# Seconds an idle connection is reused; below the servers' keep-alive (uvicorn: 5 s) so a request
# never goes out on a connection the server is closing.
VENUE_HTTP_KEEPALIVE_EXPIRY = env_float("VENUE_HTTP_KEEPALIVE_EXPIRY", 4.0)
if VENUE_HTTP_MAX_KEEPALIVE > VENUE_HTTP_MAX_CONNECTIONS:
    raise EnvError("VENUE_HTTP_MAX_KEEPALIVE", "must not exceed VENUE_HTTP_MAX_CONNECTIONS")
if VENUE_HTTP_READ_TIMEOUT >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise EnvError("VENUE_HTTP_READ_TIMEOUT", "must be shorter than CELERY_TASK_SOFT_TIME_LIMIT")
# Binance: milliseconds a signed request stays valid after its timestamp (venue max 60000).
BINANCE_RECV_WINDOW_MS = env_int("BINANCE_RECV_WINDOW_MS", 5000, min_value=1, max_value=60000)
# Binance: seconds between server-time offset re-syncs (also re-synced on every -1021).
BINANCE_TIME_SYNC_SECONDS = env_float("BINANCE_TIME_SYNC_SECONDS", 300.0, min_value=1.0)
# BitMEX: seconds from signing until api-expires (BitMEX refuses the request after it).
BITMEX_API_EXPIRES_SECONDS = env_int("BITMEX_API_EXPIRES_SECONDS", 10, min_value=1, max_value=3600)
EMULATOR_BINANCE_PORT = env_int("EMULATOR_BINANCE_PORT", 9101, min_value=1, max_value=65535)
EMULATOR_BITMEX_PORT = env_int("EMULATOR_BITMEX_PORT", 9102, min_value=1, max_value=65535)

# --- Reliability: breakers, rate budgets, retries (README "Reliability" lists every variable) -
# BREAKER_* (global) and BREAKER_<VENUE_API>_* (per venue API), RATE_*, RETRY_*; validated here.
from reliability.conf import (  # noqa: E402 - reads env only, imports no Django app
    breaker_config_from_env,
    detection_config_from_env,
    rate_config_from_env,
    redis_retry_seconds,
    retry_config_from_env,
)

RELIABILITY_BREAKERS = {api: breaker_config_from_env(api) for api in VENUE_APIS}
RELIABILITY_RATE = rate_config_from_env()
RELIABILITY_RETRY = retry_config_from_env()
# Seconds a process on its local fallback breaker/budget waits before trying Redis again.
RELIABILITY_REDIS_RETRY_SECONDS = redis_retry_seconds()
# DETECTION_*: a venue-health failure on a closed breaker is confirmed at once with pings.
RELIABILITY_DETECTION = detection_config_from_env()

# --- Orders --------------------------------------------------------------------------------
# Seconds after accept during which an unacknowledged submit may still be (re)sent; past it the
# outcome-unknown resolver stops resending and leaves the order to operators.
ORDER_SUBMIT_DEADLINE_SECONDS = env_int("ORDER_SUBMIT_DEADLINE_SECONDS", 120, min_value=1)
# POST /api/v1/orders through orders/fast_accept.py (the DRF view serves what it hands over);
# false: every order through the DRF view (the same answers, ~0.17 ms more CPU per order).
API_FAST_ACCEPT = env_bool("API_FAST_ACCEPT", True)
# Seconds an account's cached active-orders list lives (it is also dropped on every transition).
ACTIVE_ORDERS_CACHE_SECONDS = env_int("ACTIVE_ORDERS_CACHE_SECONDS", 30, min_value=1)
# At most this many orders in one /orders/active response (the list endpoint pages through all).
ACTIVE_ORDERS_MAX = env_int("ACTIVE_ORDERS_MAX", 1000, min_value=1)
# Seconds a web process reuses an instrument's rules it read for an order (orders/instrument_cache.py);
# another process's instrument change is seen within this. 0 reads PostgreSQL on every order.
INSTRUMENT_CACHE_SECONDS = env_float("INSTRUMENT_CACHE_SECONDS", 5.0, min_value=0.0)

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["orders.permissions.HasApiScope"],
    "DEFAULT_THROTTLE_CLASSES": ["orders.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("API_THROTTLE_RATE", "100/second")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "trading.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trading platform API",
    "DESCRIPTION": (
        "Place, amend, cancel and track orders on Binance (spot, USDⓈ-M, COIN-M) and BitMEX. "
        "Authenticate with `Authorization: Bearer <api key>`. Decimals are strings."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets served from the package, not a CDN (machines may be offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # One enum component for the venue names used by several fields.
    "ENUM_NAME_OVERRIDES": {"ExchangeEnum": "orders.models.instruments.VENUES"},
}

# --- Auth, i18n, static ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security (production) -----------------------------------------------------------------
if PRODUCTION:
    # TLS ends at the load balancer, which sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Health checks from the load balancer and ECS come over plain HTTP inside the VPC.
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, min_value=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Execution: submit, outcome-unknown resolver, reconciliation (README "Execution") ------
# Seconds after a send before "not found by client id" proves an order absent, per venue
# (a venue may take a moment to show an order it accepted).
EXECUTION_VISIBILITY_DELAY_SECONDS = {
    "binance": env_float("BINANCE_VISIBILITY_DELAY_SECONDS", 5.0),
    "bitmex": env_float("BITMEX_VISIBILITY_DELAY_SECONDS", 5.0),
}
# First delay (seconds) before a refused submit/amend/cancel is tried again; doubles per try.
EXECUTION_RETRY_DELAY_SECONDS = env_float("EXECUTION_RETRY_DELAY_SECONDS", 1.0, min_value=0.01)
# Upper bound (seconds) of that delay.
EXECUTION_RETRY_MAX_DELAY_SECONDS = env_float("EXECUTION_RETRY_MAX_DELAY_SECONDS", 15.0)
# Seconds a PENDING_NEW order may sit without an attempt before reconciliation queues it again
# (and then at most once per this interval, whatever the pass interval).
EXECUTION_STALE_SECONDS = env_float("EXECUTION_STALE_SECONDS", 30.0)
# Seconds between reconciliation passes (one per venue API) on beat.
RECONCILE_INTERVAL_SECONDS = env_float("RECONCILE_INTERVAL_SECONDS", 30.0, min_value=1.0)
# Seconds a queued pass may wait behind its venue queue's backlog before it is dropped (at most
# one pass per venue API waits at a time); a backlog must not starve reconciliation.
RECONCILE_PASS_EXPIRES_SECONDS = env_float("RECONCILE_PASS_EXPIRES_SECONDS", 300.0)
if RECONCILE_PASS_EXPIRES_SECONDS < RECONCILE_INTERVAL_SECONDS:
    raise EnvError("RECONCILE_PASS_EXPIRES_SECONDS", "must be >= RECONCILE_INTERVAL_SECONDS")
# Seconds back a pass looks for finished orders whose fills are not all recorded yet.
RECONCILE_FILLS_LOOKBACK_SECONDS = env_float("RECONCILE_FILLS_LOOKBACK_SECONDS", 86400.0)
# A starting worker loads instruments and reconciles the venue APIs it consumes.
EXECUTION_RECONCILE_ON_WORKER_START = env_bool("EXECUTION_RECONCILE_ON_WORKER_START", True)
# Most orders one pass looks at per venue API (in-flight first, then open; oldest first).
RECONCILE_BATCH_SIZE = env_int("RECONCILE_BATCH_SIZE", 500, min_value=1)
# Seconds between instrument refreshes on beat (delivery contracts appear and expire).
INSTRUMENT_SYNC_INTERVAL_SECONDS = env_float(
    "INSTRUMENT_SYNC_INTERVAL_SECONDS", 3600.0, min_value=10.0
)
# Dead man's switch (Binance futures countdownCancelAll, BitMEX cancelAllAfter): seconds after
# which the venue cancels our open orders unless re-armed; 0 turns it off.
DEAD_MAN_SWITCH_SECONDS = env_float("DEAD_MAN_SWITCH_SECONDS", 0.0)
if 0 < DEAD_MAN_SWITCH_SECONDS < 5:
    raise EnvError("DEAD_MAN_SWITCH_SECONDS", "must be 0 (off) or at least 5")
# Seconds between re-arms (beat); must leave room for a missed beat inside the timeout.
DEAD_MAN_SWITCH_REARM_SECONDS = env_float(
    "DEAD_MAN_SWITCH_REARM_SECONDS", max(1.0, DEAD_MAN_SWITCH_SECONDS / 3), min_value=1.0
)
if DEAD_MAN_SWITCH_SECONDS and DEAD_MAN_SWITCH_REARM_SECONDS * 2 > DEAD_MAN_SWITCH_SECONDS:
    raise EnvError("DEAD_MAN_SWITCH_REARM_SECONDS", "must be at most half DEAD_MAN_SWITCH_SECONDS")
if DEAD_MAN_SWITCH_SECONDS:
    CELERY_BEAT_SCHEDULE["dead-man-switch"] = {
        "task": "orders.tasks.arm_dead_man_switches",
        "schedule": DEAD_MAN_SWITCH_REARM_SECONDS,
        "options": {"queue": "default", "expires": DEAD_MAN_SWITCH_REARM_SECONDS},
    }
CELERY_BEAT_SCHEDULE.update(
    {
        "reconcile-orders": {
            "task": "orders.tasks.reconcile_all",
            "schedule": RECONCILE_INTERVAL_SECONDS,
            "options": {"queue": "default", "expires": RECONCILE_INTERVAL_SECONDS},
        },
        "sync-instruments": {
            "task": "orders.tasks.sync_all_instruments",
            "schedule": INSTRUMENT_SYNC_INTERVAL_SECONDS,
            "options": {"queue": "default", "expires": INSTRUMENT_SYNC_INTERVAL_SECONDS},
        },
    }
)

# --- Logging: structlog JSON through stdlib logging ---------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_FORMAT = env_str("LOG_FORMAT", "json", choices=("json", "console"))
LOGGING_CONFIG = None  # monitoring.logging.configure() sets logging up once per process
# Lines are rendered and written by one thread per process (monitoring.logging._Writer), off
# the thread that logs them (a venue call, a request); false writes each line as it is logged.
LOG_WRITER_THREAD = env_bool("LOG_WRITER_THREAD", True)

from monitoring.logging import configure as _configure_logging  # noqa: E402
from monitoring.logging import register_secret_values as _register_secret_values  # noqa: E402

_configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT, threaded=LOG_WRITER_THREAD)
# These values are masked wherever they would appear in a log line.
_register_secret_values(
    SECRET_KEY,
    BINANCE_API_KEY,
    BINANCE_API_SECRET,
    BITMEX_API_KEY,
    BITMEX_API_SECRET,
    DATABASES["default"]["PASSWORD"],
    urlsplit(REDIS_URL).password,
    *aws_secrets.secret_values,
)
if aws_secrets.loaded_names:
    import structlog as _structlog

    _structlog.get_logger("trading.settings").info(
        "ssm_parameters_loaded",
        path=os.environ[aws_secrets.PATH_VARIABLE],
        names=aws_secrets.loaded_names,
        skipped=aws_secrets.skipped_names,
    )

# --- Observability: health, worker metrics and heartbeats ----------------------------------
# Seconds a health result is reused (per process; venue probes shared fleet-wide via the cache).
HEALTH_CACHE_SECONDS = env_float("HEALTH_CACHE_SECONDS", 5.0)
# Seconds /health/ waits for all its checks together; a slower check is reported down.
HEALTH_CHECK_TIMEOUT_SECONDS = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 3.0, min_value=0.1)
# Seconds between worker heartbeats (health reports a worker gone after 3 missed ones).
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 5, min_value=1)
# Port of each Celery worker's /metrics (all its pool children summed); 0 turns it off.
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 9808, min_value=0, max_value=65535)
# Address it listens on (0.0.0.0 in the container image, so Prometheus can reach it).
WORKER_METRICS_BIND = env_str("WORKER_METRICS_BIND", "127.0.0.1")

# --- AWS: CloudWatch metrics (secrets from Parameter Store: see the top of this file) -------
# Beat queues a snapshot (health, workers, queues, registered sources) for PutMetricData.
CLOUDWATCH_METRICS_ENABLED = env_bool("CLOUDWATCH_METRICS_ENABLED", False)
CLOUDWATCH_NAMESPACE = env_str("CLOUDWATCH_NAMESPACE", "Trading")
# Seconds between two snapshots (CloudWatch's standard resolution is one minute).
CLOUDWATCH_PUBLISH_SECONDS = env_int("CLOUDWATCH_PUBLISH_SECONDS", 60, min_value=10)
if CLOUDWATCH_METRICS_ENABLED:
    CELERY_BEAT_SCHEDULE["cloudwatch-metrics"] = {
        "task": "monitoring.tasks.publish_cloudwatch_metrics",
        "schedule": float(CLOUDWATCH_PUBLISH_SECONDS),
        "options": {"queue": "default", "expires": CLOUDWATCH_PUBLISH_SECONDS},
    }

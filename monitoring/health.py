"""Health checks: a registry the apps add to, the built-in dependency checks, and the cached
aggregate behind /health/ and /health/exchanges/<venue>.

Other apps register their checks from AppConfig.ready() (monitoring never imports them):

    from monitoring.health import register_check
    register_check("binance.spot", probe_binance_spot, kind="venue")

A check is a zero-argument callable returning a dict with at least `ok` (bool). It may add
`status` ("ok" | "degraded" | "down"; default from `ok`) and any details (latency_ms, breaker,
rate_budget, last_success_at, error ...). A check that raises or overruns its timeout is
reported down; a check never takes the health endpoint down with it.

Status of the aggregate: "down" (HTTP 503) when a critical check is down, "degraded" (200) when
any other check is down or degraded, "ok" (200) otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

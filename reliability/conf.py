"""Reliability settings, read from the environment by trading/settings.py (validated at start).

Every breaker setting has a global variable (BREAKER_FAILURE_COUNT) and a per-venue-API
override (BREAKER_BINANCE_SPOT_FAILURE_COUNT, BREAKER_BITMEX_FAILURE_COUNT, ...). The README's
"Reliability" section lists them all. Imports nothing from Django apps: settings import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading.env import EnvError, env_float, env_int


def env_prefix(venue_api: str) -> str:
    """binance.spot -> BINANCE_SPOT, bitmex -> BITMEX."""
    return venue_api.upper().replace(".", "_")


@dataclass(frozen=True)
class BreakerConfig:
    # Consecutive failures (cluster-wide) that trip a closed breaker; 0 turns the rule off.
    failure_count: int = 5
    # Share of failed calls in the sliding window that trips it (0 < r <= 1); 0 turns it off.
    failure_rate: float = 0.5
    # Calls the window must hold before the failure rate is judged.
    minimum_calls: int = 20
    # Length of the sliding window (seconds) the failure rate is measured over.
    window_seconds: float = 60.0
    # A successful call slower than this (seconds) counts as a failure; 0 turns it off.
    slow_call_seconds: float = 5.0
    # Seconds an open breaker refuses calls before it lets probes through (half-open).
    recovery_seconds: float = 30.0
    # Probes let through in half-open; all must succeed to close, one failure re-opens.
    half_open_calls: int = 1
    # Seconds a process admits calls on its last view of a closed breaker without asking
    # Redis (and batches its successes); a breaker opened anywhere refuses within this. 0: off.
    cache_seconds: float = 0.1


def breaker_config_from_env(venue_api: str) -> BreakerConfig:
    prefix = f"BREAKER_{env_prefix(venue_api)}_"

    def read(name: str, default, reader, **kw):
        base = reader(f"BREAKER_{name}", default, **kw)
        return reader(prefix + name, base, **kw)

    d = BreakerConfig()
    config = BreakerConfig(
        failure_count=read("FAILURE_COUNT", d.failure_count, env_int, min_value=0),
        failure_rate=read("FAILURE_RATE", d.failure_rate, env_float),
        minimum_calls=read("MINIMUM_CALLS", d.minimum_calls, env_int, min_value=1),
        window_seconds=read("WINDOW_SECONDS", d.window_seconds, env_float, min_value=1.0),
        slow_call_seconds=read("SLOW_CALL_SECONDS", d.slow_call_seconds, env_float),
        recovery_seconds=read("RECOVERY_SECONDS", d.recovery_seconds, env_float, min_value=0.1),
        half_open_calls=read("HALF_OPEN_CALLS", d.half_open_calls, env_int, min_value=1),
        cache_seconds=read("CACHE_SECONDS", d.cache_seconds, env_float, min_value=0.0),
    )
    if config.failure_rate > 1:
        raise EnvError(prefix + "FAILURE_RATE", "must be a share between 0 and 1")
    if config.cache_seconds > 1:
        raise EnvError(prefix + "CACHE_SECONDS", "must stay <= 1 (how stale a breaker may be)")
    if config.failure_count == 0 and config.failure_rate == 0:
        raise EnvError(prefix + "FAILURE_COUNT", "and FAILURE_RATE are both 0: nothing can trip")
    return config


@dataclass(frozen=True)
class Budget:
    """One limit the venue enforces. kind 'window': a fixed window of `period` seconds aligned
    to the epoch, corrected upwards from a "used" header (Binance). kind 'bucket': a token
    bucket of `limit` tokens refilled over `period`, corrected downwards from a "remaining"
    header (BitMEX)."""

    name: str  # weight_1m, orders_10s, ...
    kind: str  # window | bucket
    limit: int
    period: float  # seconds
    cost: str  # weight | orders | request: which cost of the call it charges
    scope: str  # ip (every key of this machine) | key (one API key / account)
    header: str  # lower-case response header that corrects it ("" for none)


@dataclass(frozen=True)
class RateConfig:
    budgets: dict[str, tuple[Budget, ...]]
    # Share of every budget kept for HIGH priority (cancels, reconciliation reads).
    high_reserve: float = 0.2
    # Further share NORMAL keeps from LOW (market data, instrument refresh).
    normal_reserve: float = 0.1
    # Longest wait for budget when the caller gives no deadline (seconds).
    max_wait_seconds: float = 10.0
    # Cooldown after a 429 that carries no Retry-After (seconds).
    cooldown_default_seconds: float = 1.0
    # Ban length assumed after a 418 that carries no Retry-After (Binance starts at 2 min).
    ban_default_seconds: float = 120.0
    # While Redis is down each process keeps this share of every budget for itself.
    local_fallback_share: float = 0.25
    # A window charge made this close (seconds) to its window's end also counts in the next
    # window: the venue counts a request when it arrives, which may be after the boundary.
    window_guard_seconds: float = 0.25
    # Largest share of each budget one process may lease (charge ahead in Redis and spend
    # without asking); 0 turns leases off (every call asks Redis).
    lease_share: float = 0.02
    # A lease is spent within this many seconds (and sized to last about as long at the
    # process's recent rate); what is left goes back with the process's next trip.
    lease_seconds: float = 0.25


def _limit(venue_api: str, name: str, default: int) -> int:
    return env_int(f"RATE_{env_prefix(venue_api)}_{name}", default, min_value=1)


def rate_config_from_env() -> RateConfig:
    def binance(api: str, weight: int, orders: list[tuple[str, int, float]]):
        rows = [
            Budget(
                "weight_1m",
                "window",
                _limit(api, "WEIGHT_PER_MINUTE", weight),
                60,
                "weight",
                "ip",
                "x-mbx-used-weight-1m",
            )
        ]
        for name, default, period in orders:
            var = {
                "orders_10s": "ORDERS_PER_10S",
                "orders_1m": "ORDERS_PER_MINUTE",
                "orders_1d": "ORDERS_PER_DAY",
            }[name]
            rows.append(
                Budget(
                    name,
                    "window",
                    _limit(api, var, default),
                    period,
                    "orders",
                    "key",
                    f"x-mbx-order-count-{name.split('_')[1]}",
                )
            )
        return tuple(rows)

    budgets = {
        # Binance publishes these in exchangeInfo.rateLimits; IP weight is per API family.
        "binance.spot": binance(
            "binance.spot", 6000, [("orders_10s", 50, 10), ("orders_1d", 160000, 86400)]
        ),
        "binance.usdm": binance(
            "binance.usdm", 2400, [("orders_10s", 300, 10), ("orders_1m", 1200, 60)]
        ),
        "binance.coinm": binance("binance.coinm", 6000, [("orders_1m", 1200, 60)]),
        # BitMEX: token bucket 120/min on every route, 10/s on order routes.
        "bitmex": (
            Budget(
                "requests_1m",
                "bucket",
                _limit("bitmex", "REQUESTS_PER_MINUTE", 120),
                60,
                "request",
                "key",
                "x-ratelimit-remaining",
            ),
            Budget(
                "orders_1s",
                "bucket",
                _limit("bitmex", "ORDERS_PER_SECOND", 10),
                1,
                "orders",
                "key",
                "x-ratelimit-remaining-1s",
            ),
        ),
    }
    config = RateConfig(
        budgets=budgets,
        high_reserve=env_float("RATE_HIGH_RESERVE", 0.2),
        normal_reserve=env_float("RATE_NORMAL_RESERVE", 0.1),
        max_wait_seconds=env_float("RATE_MAX_WAIT_SECONDS", 10.0),
        cooldown_default_seconds=env_float("RATE_COOLDOWN_DEFAULT_SECONDS", 1.0),
        ban_default_seconds=env_float("RATE_BAN_DEFAULT_SECONDS", 120.0, min_value=1.0),
        local_fallback_share=env_float("RATE_LOCAL_FALLBACK_SHARE", 0.25),
        window_guard_seconds=env_float("RATE_WINDOW_GUARD_SECONDS", 0.25),
        lease_share=env_float("RATE_LEASE_SHARE", 0.02),
        lease_seconds=env_float("RATE_LEASE_SECONDS", 0.25, min_value=0.01),
    )
    if config.high_reserve + config.normal_reserve >= 1:
        raise EnvError("RATE_HIGH_RESERVE", "plus RATE_NORMAL_RESERVE must stay below 1")
    if config.lease_share > 0.1:
        raise EnvError("RATE_LEASE_SHARE", "must stay <= 0.1 (processes would starve each other)")
    if config.lease_seconds > 5:
        raise EnvError("RATE_LEASE_SECONDS", "must stay <= 5")
    if not 0 < config.local_fallback_share <= 1:
        raise EnvError("RATE_LOCAL_FALLBACK_SHARE", "must be a share between 0 and 1")
    return config


@dataclass(frozen=True)
class RetryConfig:
    # Attempts (the first one included) per operation; other operations use "query".
    attempts: dict[str, int]
    # First backoff window (seconds); the window doubles per retry (full jitter inside it).
    base_seconds: float = 0.2
    # Largest backoff window (seconds).
    max_backoff_seconds: float = 5.0
    # Deadline of a call whose caller gives none (seconds from the first attempt).
    default_deadline_seconds: float = 20.0


def retry_config_from_env() -> RetryConfig:
    defaults = {"submit": 3, "amend": 3, "cancel": 5, "query": 4}
    attempts = {
        op: env_int(f"RETRY_{op.upper()}_ATTEMPTS", n, min_value=1, max_value=20)
        for op, n in defaults.items()
    }
    return RetryConfig(
        attempts=attempts,
        base_seconds=env_float("RETRY_BASE_SECONDS", 0.2),
        max_backoff_seconds=env_float("RETRY_MAX_BACKOFF_SECONDS", 5.0),
        default_deadline_seconds=env_float("RETRY_DEFAULT_DEADLINE_SECONDS", 20.0, min_value=0.1),
    )


# Seconds a process that fell back to its local breaker / budget waits before trying Redis again.
def redis_retry_seconds() -> float:
    return env_float("RELIABILITY_REDIS_RETRY_SECONDS", 5.0, min_value=0.1)


@dataclass(frozen=True)
class DetectionConfig:
    """Fast outage detection (reliability/detection.py): a venue-health failure on a closed
    breaker is confirmed at once with cheap pings, each failed ping a breaker failure."""

    # Most pings one confirmation sends (stops early when one succeeds or the breaker opens);
    # 0 turns fast detection off (only the breaker's own thresholds remain).
    probes: int = 4
    # Seconds between two pings of one confirmation (the first goes at once).
    probe_interval_seconds: float = 0.2
    # A call that failed after this long (seconds) is not confirmed, and a confirmation sends
    # no further ping once it has run this long: a venue that hangs would cost a read timeout
    # per ping.
    max_seconds: float = 3.0


def detection_config_from_env() -> DetectionConfig:
    d = DetectionConfig()
    return DetectionConfig(
        probes=env_int("DETECTION_PROBES", d.probes, min_value=0, max_value=20),
        probe_interval_seconds=env_float(
            "DETECTION_PROBE_INTERVAL_SECONDS", d.probe_interval_seconds
        ),
        max_seconds=env_float("DETECTION_MAX_SECONDS", d.max_seconds, min_value=0.1),
    )

"""Rate budgets per venue API, shared by every worker through Redis.

    budget_for("binance.spot").acquire(weight=1, orders=1, priority=Priority.NORMAL, deadline=t)

Each venue API has the budgets its venue enforces (reliability/conf.py: Binance request weight
per IP and order counts per account; BitMEX requests per minute and order-route calls per
second). One Lua script checks and charges all of a call's budgets atomically, so concurrent
workers never overdraw; responses correct the counts from the venue's own headers; a 429 sets
a cooldown and a 418 a ban that every worker honours. HIGH priority may use the whole budget,
NORMAL leaves RATE_HIGH_RESERVE of it, LOW leaves RATE_NORMAL_RESERVE more.

While Redis is unreachable each process keeps RATE_LOCAL_FALLBACK_SHARE of every budget for
itself (`degraded` is True) and tries Redis again every RELIABILITY_REDIS_RETRY_SECONDS.

Leases (the call path, reliability.guard): the trip that admits a call may also charge up to
RATE_LEASE_SHARE of each budget ahead for this process (sized by its recent use, within
NORMAL's share, never in a window's last RATE_WINDOW_GUARD_SECONDS); the process then admits
HIGH and NORMAL calls from it without a trip (`take_local`) for up to RATE_LEASE_SECONDS, and
gives back what is left with its next trip. Budget charged ahead is budget spent as far as
every other process knows, so the venue's limit holds across processes; a lease left unspent
by a process that went away stays charged until its window ends (buckets refill).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
import structlog
from django.conf import settings

from monitoring.metrics import (
    RATE_BAN_SECONDS,
    RATE_BUDGET_REMAINING,
    RATE_BUDGET_USED,
    RATE_COOLDOWN_SECONDS,
    RATE_LIMITED,
)
from monitoring.redis import state_client
from reliability.channel import channel
from reliability.conf import Budget, RateConfig
from reliability.errors import RateLimitedError
from reliability.runtime import runtime

log = structlog.get_logger(__name__)

SCRIPT = (Path(__file__).parent / "lua" / "budget.lua").read_text()


def _share(config: RateConfig, priority: int) -> float:
    """Share of each budget a priority may use (0 HIGH, 1 NORMAL, 2 LOW)."""
    if priority <= 0:
        return 1.0
    if priority == 1:
        return 1.0 - config.high_reserve
    return 1.0 - config.high_reserve - config.normal_reserve


def _api_key(venue_api: str) -> str:
    return settings.BITMEX_API_KEY if venue_api == "bitmex" else settings.BINANCE_API_KEY


@functools.lru_cache(maxsize=16)
def _fingerprint(key: str) -> str:
    """Budgets per API key are stored under a hash of the key, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:12] if key else "nokey"


def _key_fingerprint(venue_api: str) -> str:
    return _fingerprint(_api_key(venue_api))


def _cost(budget: Budget, weight: int, orders: int) -> int:
    return {"weight": weight, "orders": orders, "request": 1}[budget.cost]


def _lowered(headers, wanted: dict[bytes, str] | None = None) -> dict[str, str]:
    """A response's headers by lower-case name (one pass; any mapping, httpx.Headers too);
    of an httpx.Headers only the `wanted` ones (lower-case bytes -> name), read raw."""
    if not headers:
        return {}
    raw = getattr(headers, "raw", None) if wanted is not None else None
    if isinstance(raw, list):
        found = {}
        for key, value in raw:
            name = wanted.get(key.lower())
            if name is not None:
                found[name] = value.decode("latin-1")
        return found
    try:
        items = headers.items()
    except AttributeError:
        return {}
    return {str(key).lower(): str(value) for key, value in items}


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


@dataclass(frozen=True)
class Correction:
    """What one response says the shared budget should take in (RateBudget.correction)."""

    now: float
    cooldown_until: float
    ban_until: float
    values: list  # per budget: the venue's count, or None when its header said nothing

    @property
    def counts_only(self) -> bool:
        return not (self.cooldown_until or self.ban_until)


class _Lease:
    """Budget this process charged ahead in Redis, per budget of its venue API."""

    __slots__ = ("active", "at", "budgets", "granted", "left", "until", "used", "windows")

    def __init__(self, budgets, windows, granted, used, at, until):
        self.budgets = budgets  # the configuration it was granted under
        self.windows = windows  # per budget: the window's index (-1: a bucket)
        self.granted, self.left = granted, list(granted)
        self.used = used  # each budget's shared use when it was granted
        self.at, self.until = at, until
        self.active = True  # False: spend no more of it (cooldown, ban); give it back


def _costs(budgets, weight: int, orders: int) -> list[int]:
    return [weight if b.cost == "weight" else orders if b.cost == "orders" else 1 for b in budgets]


class RateBudget:
    def __init__(self, venue_api: str):
        if venue_api not in settings.VENUE_APIS:
            raise ValueError(f"unknown venue API {venue_api!r}")
        self.venue_api = venue_api
        self._scripts: dict[int, object] = {}
        self._local = _LocalBudget()
        self._degraded = False
        self._next_redis_try = 0.0
        self._lock = threading.RLock()  # one state operation at a time per process, no waits
        self._gauges: dict[tuple[Budget, ...], list] = {}
        self._owner = uuid.uuid4().hex[:16]  # this process's name on its leases
        self._lease: _Lease | None = None
        self._lease_lock = threading.Lock()
        self._last_lease: _Lease | None = None  # the lease given back last (sizes the next)
        self._wanted_headers: tuple | None = None

    @property
    def config(self) -> RateConfig:
        return settings.RELIABILITY_RATE

    @property
    def budgets(self) -> tuple[Budget, ...]:
        return self.config.budgets[self.venue_api]

    @property
    def degraded(self) -> bool:
        return self._degraded

    def _keys(self) -> list[str]:
        base = f"reliability:rate:{self.venue_api}"
        keys = [f"{base}:cooldown", f"{base}:ban"]
        fingerprint = _key_fingerprint(self.venue_api)
        for b in self.budgets:
            keys.append(f"{base}:{b.name}" if b.scope == "ip" else f"{base}:{fingerprint}:{b.name}")
        return keys

    # --- acquire ------------------------------------------------------------------------
    def acquire(self, *, weight: int, orders: int, priority: int, deadline: float) -> list[float]:
        """Charge the call's costs, waiting (injectable sleep) while the budget is short.

        Returns each budget's use after the charge (give it to observe() as `known_used`).
        Raises RateLimitedError (sent=False) when the wait would pass the deadline or
        RATE_MAX_WAIT_SECONDS, during a cooldown/ban that outlasts them, or when the call
        costs more than the priority's share of a budget can ever hold."""
        rt = runtime()
        started = rt.clock()
        limit_at = min(deadline, started + self.config.max_wait_seconds)
        share = _share(self.config, int(priority))
        counted = False
        while True:
            now = rt.clock()
            verdict, wait, used = self._run("acquire", now, weight, orders, share)
            if verdict == "ok":
                self._publish(used)
                return used
            if not counted:
                counted = True
                RATE_LIMITED.labels(venue=self.venue_api, priority=_priority_name(priority)).inc()
                log.info(
                    "rate.waiting",
                    venue_api=self.venue_api,
                    reason=verdict,
                    wait_seconds=round(wait, 3),
                    weight=weight,
                    orders=orders,
                    priority=_priority_name(priority),
                )
            if verdict == "too_big" or now + wait > limit_at:
                raise RateLimitedError(
                    self.venue_api,
                    retry_after=None if verdict == "too_big" else wait,
                    reason=verdict,
                )
            rt.sleep(wait + rt.rng.uniform(0, min(0.05, wait * 0.1)))

    # --- one round trip with the breaker (reliability.guard) -------------------------------
    def take_local(self, now: float, weight: int, orders: int, priority: int) -> list | None:
        """Admits a HIGH or NORMAL call from this process's lease, without a trip: each
        budget's use as of the lease (give it to correction() as `known_used`), or None when
        the lease cannot (none, spent, ended, another window, a window's last guard seconds,
        a cooldown or ban seen, Redis unreachable): then ask Redis."""
        lease = self._lease
        if lease is None or not lease.active or now >= lease.until or priority > 1:
            return None
        config = settings.RELIABILITY_RATE
        budgets = lease.budgets
        if self._degraded or budgets is not config.budgets[self.venue_api]:
            return None
        costs = _costs(budgets, weight, orders)
        guard = config.window_guard_seconds
        with self._lease_lock:
            if self._lease is not lease:
                return None  # given back meanwhile (another thread's trip): not ours to spend
            for b, window, left, cost in zip(
                budgets, lease.windows, lease.left, costs, strict=True
            ):
                if not cost:
                    continue
                if left < cost:
                    return None
                if window >= 0 and (
                    math.floor(now / b.period) != window or (window + 1) * b.period - now < guard
                ):
                    return None
            left = lease.left
            for i, cost in enumerate(costs):
                left[i] -= cost
        return lease.used

    def queue_acquire(
        self, pipe, *, weight: int, orders: int, priority: int, lease: bool = False
    ) -> tuple:
        """Adds one acquire (no waiting) to a Redis pipeline; hand its reply and the ticket
        returned here to acquired().

        lease (HIGH or NORMAL calls, leases on): this process's lease is given back and a new
        one asked for in the same step."""
        now = runtime().clock()
        config, budgets = self.config, self.budgets
        share = _share(config, int(priority))
        sizes = back = None
        if lease and int(priority) <= 1 and config.lease_share > 0 and not self._degraded:
            back = self._give_back(now, budgets)
            sizes = self._lease_sizes(now, budgets, _costs(budgets, weight, orders))
        args = self._acquire_args(now, weight, orders, share, sizes=sizes, back=back)
        pipe.evalsha(self._script().sha, len(self._keys()), *self._keys(), *args)
        return sizes, now

    def acquired(self, reply, ticket: tuple = (None, 0.0)) -> list[float] | None:
        """Each budget's use if a queued acquire charged the call (and takes in the lease it
        granted); None if it did not (the caller then waits through acquire())."""
        sizes, sized_at = ticket
        if reply[0] != "ok":
            return None
        budgets = self.budgets
        n = len(budgets)
        used = [float(v) for v in reply[2 : 2 + n]]
        granted = [float(v) for v in reply[2 + n : 2 + 2 * n]]
        if sizes is not None and any(granted):
            now = sized_at  # the time the script charged it at: its window, its end
            windows = [math.floor(now / b.period) if b.kind == "window" else -1 for b in budgets]
            self._lease = _Lease(
                budgets, windows, granted, used, now, now + self.config.lease_seconds
            )
        self._publish(used)
        return used

    def _give_back(self, now: float, budgets) -> list | None:
        """What this process's lease left unspent (per budget: amount, window), the lease
        dropped; None when it holds none."""
        with self._lease_lock:  # what is left, as of the moment no thread can spend it any more
            lease, self._lease = self._lease, None
            back = None if lease is None else list(zip(lease.left, lease.windows, strict=True))
        self._last_lease = lease
        if lease is None or lease.budgets is not budgets:
            return None
        return back

    def _lease_sizes(self, now: float, budgets, costs: list[int]) -> list[int]:
        """Per budget: what to lease beyond this call, to last about lease_seconds at this
        process's recent use (spent from the last lease over its age), at most lease_share of
        the budget, nothing for budgets the calls do not spend."""
        config = self.config
        last = self._last_lease
        sizes = []
        for i, (b, cost) in enumerate(zip(budgets, costs, strict=True)):
            cap = math.floor(b.limit * config.lease_share)
            if cap < max(cost, 1):
                sizes.append(0)
                continue
            if last is not None and last.budgets is budgets:
                spent = last.granted[i] - last.left[i] + cost
                rate = spent / max(now - last.at, 0.001)
                want = math.ceil(rate * config.lease_seconds)
            else:
                want = cost * 4
            sizes.append(min(cap, max(want, cost)) if cost else (min(cap, want) if want else 0))
        return sizes

    # --- corrections from responses -------------------------------------------------------
    def observe(
        self,
        *,
        headers=None,
        status: int | None = None,
        retry_after=None,
        banned: bool = False,
        known_used: list[float] | None = None,
    ):
        """Correct the budgets from a response's headers; set the cooldown (429) or the ban
        (418). Returns the end of a ban (time), else None.

        known_used (what acquire() returned for this call): headers that say no more than
        that (Binance used weight/orders no higher, BitMEX remaining no lower) would change
        nothing, so they cost no Redis round trip."""
        correction = self.correction(
            headers=headers,
            status=status,
            retry_after=retry_after,
            banned=banned,
            known_used=known_used,
        )
        return None if correction is None else self.apply(correction)

    def correction(
        self,
        *,
        headers=None,
        status: int | None = None,
        retry_after=None,
        banned: bool = False,
        known_used: list[float] | None = None,
    ) -> Correction | None:
        """What a response tells the shared budget (observe() without applying it), or None
        when it tells nothing new."""
        now = runtime().clock()
        config = self.config
        budgets = config.budgets[self.venue_api]
        lowered = _lowered(headers, self._wanted(budgets))
        header_wait = _number(lowered.get("retry-after"))
        wait = retry_after if retry_after is not None else header_wait
        cooldown_until = ban_until = 0.0
        if banned or status == 418:
            ban_until = now + float(wait if wait else config.ban_default_seconds)
        elif status == 429:
            cooldown_until = now + float(wait if wait else config.cooldown_default_seconds)
        values = []
        for b in budgets:
            value = _number(lowered.get(b.header)) if b.header else None
            values.append(value)
            if b.kind == "bucket" and value is not None and value <= 0:
                reset = _number(lowered.get("x-ratelimit-reset"))
                if b.header == "x-ratelimit-remaining" and reset and reset > now:
                    cooldown_until = max(cooldown_until, reset)
        if not (cooldown_until or ban_until or any(v is not None for v in values)):
            return None
        if not (cooldown_until or ban_until) and self._nothing_new(budgets, values, known_used):
            return None
        return Correction(now, cooldown_until, ban_until, values)

    def _wanted(self, budgets) -> dict[bytes, str]:
        """The response headers correction() reads (lower-case bytes -> name)."""
        cached = self._wanted_headers
        if cached is None or cached[0] is not budgets:
            names = ["retry-after", "x-ratelimit-reset", *(b.header for b in budgets if b.header)]
            cached = self._wanted_headers = (budgets, {n.encode(): n for n in names})
        return cached[1]

    def apply(self, correction: Correction):
        """Applies a correction (one Redis round trip); returns the end of a ban, else None."""
        now, cooldown_until, ban_until = (
            correction.now,
            correction.cooldown_until,
            correction.ban_until,
        )
        if cooldown_until or ban_until:
            self.stop_lease()  # the next call asks Redis, which knows of the cooldown / ban
        self._run("observe", now, cooldown_until, ban_until, correction.values)
        if cooldown_until:
            RATE_COOLDOWN_SECONDS.labels(venue=self.venue_api).set(cooldown_until - now)
            log.warning("rate.cooldown", venue_api=self.venue_api, seconds=cooldown_until - now)
        if ban_until:
            RATE_BAN_SECONDS.labels(venue=self.venue_api).set(ban_until - now)
            log.error("rate.banned", venue_api=self.venue_api, seconds=ban_until - now)
            return ban_until
        return None

    def queue_observe(self, pipe, correction: Correction) -> None:
        """Adds a correction that only corrects counts (no cooldown, no ban) to a Redis
        pipeline (its reply says nothing: apply() it again if it failed)."""
        args = self._observe_args(correction.now, 0.0, 0.0, correction.values)
        pipe.evalsha(self._script().sha, len(self._keys()), *self._keys(), *args)

    def leased(self) -> list[float]:
        """Per budget: what this process's lease has left to spend (0 without one)."""
        lease = self._lease
        if lease is None or not lease.active or lease.budgets is not self.budgets:
            return [0.0] * len(self.budgets)
        return list(lease.left)

    def stop_lease(self) -> None:
        """Spend no more of the lease (what is left goes back with the next trip)."""
        lease = self._lease
        if lease is not None:
            lease.active = False

    def forget_lease(self) -> None:
        """Drop the lease without giving it back (a forked child: the parent holds it)."""
        self._lease = self._last_lease = None

    @staticmethod
    def _nothing_new(budgets, values: list, known_used: list[float] | None) -> bool:
        if known_used is None or len(known_used) != len(values):
            return False
        for b, value, used in zip(budgets, values, known_used, strict=True):
            if value is None:
                continue
            if b.kind == "window" and value > used:
                return False
            if b.kind == "bucket" and value < b.limit - used:
                return False
        return True

    def snapshot(self) -> dict:
        now = runtime().clock()
        cooldown, ban, used = self._run("peek", now)
        budgets = {
            b.name: {"used": round(u, 3), "limit": b.limit, "period_seconds": b.period}
            for b, u in zip(self.budgets, used, strict=True)
        }
        self._publish(used)
        return {
            "cooldown_seconds": max(0.0, (cooldown or 0) - now),
            "ban_seconds": max(0.0, (ban or 0) - now),
            "budgets": budgets,
            "degraded": self._degraded,
        }

    def _publish(self, used) -> None:
        budgets = self.budgets
        gauges = self._gauges.get(budgets)
        if gauges is None:  # the labelled children, looked up once per budget configuration
            gauges = self._gauges[budgets] = [
                (
                    b.limit,
                    RATE_BUDGET_USED.labels(venue=self.venue_api, budget=b.name),
                    RATE_BUDGET_REMAINING.labels(venue=self.venue_api, budget=b.name),
                )
                for b in budgets
            ]
        for (limit, used_gauge, remaining_gauge), u in zip(gauges, used, strict=True):
            used_gauge.set(u)
            remaining_gauge.set(max(0.0, limit - u))

    # --- Redis or local -----------------------------------------------------------------
    def _run(self, op: str, now: float, *args):
        channel().drain()  # this thread's deferred commands reach Redis before this one
        with self._lock:
            return self._run_locked(op, now, *args)

    def _run_locked(self, op: str, now: float, *args):
        if not self._degraded or now >= self._next_redis_try:
            try:
                result = getattr(self, f"_redis_{op}")(now, *args)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._next_redis_try = now + settings.RELIABILITY_REDIS_RETRY_SECONDS
                if not self._degraded:
                    self._degraded = True
                    log.error(
                        "rate.redis_unreachable",
                        venue_api=self.venue_api,
                        error=f"{type(exc).__name__}: {exc}"[:200],
                    )
            else:
                if self._degraded:
                    self._degraded = False
                    log.warning("rate.redis_recovered", venue_api=self.venue_api)
                return result
        return getattr(self._local, op)(self, now, *args)

    def _script(self):
        client = state_client()
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(SCRIPT)
        return script

    def _acquire_args(self, now, weight, orders, share, *, sizes=None, back=None) -> list:
        config = self.config
        owner, until = (self._owner, repr(now + config.lease_seconds)) if sizes else ("", "0")
        args = ["acquire", repr(now), len(self.budgets), repr(config.window_guard_seconds)]
        args += [owner, until]
        lease_share = _share(config, 1)  # leases stay within NORMAL's share
        for i, b in enumerate(self.budgets):
            args += [b.kind, b.limit, repr(b.limit * share), b.period, _cost(b, weight, orders)]
            amount, window = back[i] if back else (0, -1)
            size = sizes[i] if sizes else 0
            args += [repr(b.limit * lease_share), size, repr(float(amount)), window]
        return args

    def _redis_acquire(self, now, weight, orders, share):
        args = self._acquire_args(now, weight, orders, share)
        reply = self._script()(keys=self._keys(), args=args)
        return reply[0], float(reply[1]), [float(v) for v in reply[2 : 2 + len(self.budgets)]]

    def _observe_args(self, now, cooldown_until, ban_until, values) -> list:
        args = ["observe", repr(now), len(self.budgets), repr(cooldown_until), repr(ban_until)]
        for b, v in zip(self.budgets, values, strict=True):
            args += [b.kind, b.limit, b.period, "" if v is None else repr(v)]
        return args

    def _redis_observe(self, now, cooldown_until, ban_until, values):
        args = self._observe_args(now, cooldown_until, ban_until, values)
        self._script()(keys=self._keys(), args=args)

    def _redis_peek(self, now):
        args = ["peek", repr(now), len(self.budgets)]
        for b in self.budgets:
            args += [b.kind, b.limit, b.period]
        reply = self._script()(keys=self._keys(), args=args)
        return _number(reply[0] or None), _number(reply[1] or None), [float(v) for v in reply[2:]]


class _LocalBudget:
    """The same budgets in this process only, each scaled to RATE_LOCAL_FALLBACK_SHARE."""

    def __init__(self):
        self.windows: dict[tuple[str, int], float] = {}
        self.buckets: dict[str, tuple[float, float]] = {}
        self.cooldown = self.ban = 0.0

    def _limit(self, owner: RateBudget, b: Budget) -> float:
        return max(1.0, math.floor(b.limit * owner.config.local_fallback_share))

    def _tokens(self, b: Budget, limit: float, now: float) -> float:
        tokens, ts = self.buckets.get(b.name, (limit, now))
        return min(limit, tokens + max(0.0, now - ts) * limit / b.period)

    def _used(self, owner, b: Budget, now: float) -> float:
        limit = self._limit(owner, b)
        if b.kind == "window":
            return self.windows.get((b.name, math.floor(now / b.period)), 0.0)
        return limit - self._tokens(b, limit, now)

    def acquire(self, owner: RateBudget, now, weight, orders, share):
        if now < self.ban:
            return "ban", self.ban - now, []
        if now < self.cooldown:
            return "cooldown", self.cooldown - now, []
        wait = 0.0
        for b in owner.budgets:
            cost, limit = _cost(b, weight, orders), self._limit(owner, b)
            allowed = limit * share
            if cost > allowed:
                return "too_big", 0.0, []
            index = math.floor(now / b.period)
            straddles = (index + 1) * b.period - now < owner.config.window_guard_seconds
            next_used = self.windows.get((b.name, index + 1), 0.0) if straddles else 0.0
            if cost and b.kind == "window" and self._used(owner, b, now) + cost > allowed:
                wait = max(wait, (index + 1) * b.period - now)
            elif cost and b.kind == "window" and next_used + cost > allowed:
                wait = max(wait, (index + 2) * b.period - now)
            elif cost and b.kind == "bucket":
                tokens, keep = self._tokens(b, limit, now), limit - allowed
                if tokens - cost < keep:
                    wait = max(wait, (cost + keep - tokens) * b.period / limit)
        if wait > 0:
            return "wait", wait, []
        self.windows = {  # drop windows that ended
            (name, index): used
            for (name, index), used in self.windows.items()
            if any(b.name == name and index >= math.floor(now / b.period) for b in owner.budgets)
        }
        for b in owner.budgets:
            cost, limit = _cost(b, weight, orders), self._limit(owner, b)
            if b.kind == "window":
                index = math.floor(now / b.period)
                self.windows[(b.name, index)] = self.windows.get((b.name, index), 0.0) + cost
                if cost and (index + 1) * b.period - now < owner.config.window_guard_seconds:
                    ahead = (b.name, index + 1)
                    self.windows[ahead] = self.windows.get(ahead, 0.0) + cost
            else:
                self.buckets[b.name] = (self._tokens(b, limit, now) - cost, now)
        return "ok", 0.0, [self._used(owner, b, now) for b in owner.budgets]

    def observe(self, owner: RateBudget, now, cooldown_until, ban_until, values):
        self.cooldown, self.ban = max(self.cooldown, cooldown_until), max(self.ban, ban_until)
        for b, value in zip(owner.budgets, values, strict=True):
            if value is None:
                continue
            if b.kind == "window":
                key = (b.name, math.floor(now / b.period))
                self.windows[key] = max(self.windows.get(key, 0.0), value)
            else:
                limit = self._limit(owner, b)
                self.buckets[b.name] = (min(self._tokens(b, limit, now), value), now)

    def peek(self, owner: RateBudget, now):
        return self.cooldown, self.ban, [self._used(owner, b, now) for b in owner.budgets]


def _priority_name(priority) -> str:
    return {0: "high", 1: "normal", 2: "low"}.get(int(priority), "normal")


_budgets: dict[str, RateBudget] = {}


def budget_for(venue_api: str) -> RateBudget:
    """This process's handle on one venue API's shared rate budgets."""
    budget = _budgets.get(venue_api)
    if budget is None:
        budget = _budgets[venue_api] = RateBudget(venue_api)
    return budget


def forget_budgets() -> None:
    _budgets.clear()


def _after_fork_in_child() -> None:
    """A forked child must not spend its parent's leases (the parent still does)."""
    for budget in _budgets.values():
        budget.forget_lease()


os.register_at_fork(after_in_child=_after_fork_in_child)

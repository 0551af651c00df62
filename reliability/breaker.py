"""Circuit breakers per venue API, shared by every process through Redis.

    breaker_for("binance.usdm").allows_calls()     # fail fast / fail over when False
    breaker_for("bitmex").force_open(by="alice", reason="venue maintenance")
    all_breakers()                                  # snapshots for health and the admin

State lives in Redis and changes only through one Lua script (reliability/lua/breaker.lua),
so one process trips a breaker and exactly `half_open_calls` probes are let through in
half-open, however many workers race. While Redis is unreachable each process falls back to
a local breaker with the same rules (`.degraded` is True) and tries Redis again every
RELIABILITY_REDIS_RETRY_SECONDS.

The call path (reliability.guard) reads the breaker from this process's last view of it while
that view is a closed breaker seen on Redis less than `cache_seconds` ago (BREAKER_CACHE_SECONDS):
every reply from Redis refreshes the view, and a call made on an older view goes to Redis. A
closed breaker's successes are recorded in batches (with the next trip to Redis, or sent
without waiting once the batch is `cache_seconds` old); failures, slow calls, probes, bans and
operator actions go to Redis at once, after the batch. So a breaker opened (or forced open)
anywhere refuses this process's calls within `cache_seconds` of the change.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import redis
import structlog
from django.conf import settings

from monitoring.metrics import BREAKER_REJECTED_CALLS
from monitoring.redis import state_client
from reliability.breaker_store import LocalBreakerStore, RedisBreakerStore, Step
from reliability.channel import channel
from reliability.conf import BreakerConfig
from reliability.errors import BreakerOpenError
from reliability.events import publish_state, record_transition
from reliability.runtime import runtime
from reliability.transitions import OPERATOR_ACTIONS, BreakerState

log = structlog.get_logger(__name__)


class BreakerStoreUnavailable(Exception):
    """Operator actions need the shared store: with Redis down they would reach one process."""


@dataclass(frozen=True)
class Permit:
    """A call let through by the breaker; hand it back with the call's outcome."""

    gen: int
    probe: bool


class Breaker:
    def __init__(self, venue_api: str):
        if venue_api not in settings.VENUE_APIS:
            raise ValueError(f"unknown venue API {venue_api!r}")
        self.venue_api = venue_api
        self._redis = RedisBreakerStore(state_client)
        self._local = LocalBreakerStore()
        self._degraded = False
        self._next_redis_try = 0.0
        self._last_state = BreakerState.CLOSED
        self._last_retry_at: float | None = None
        self._last_gen = 0
        self._seen_at = float("-inf")  # when this process last heard the state from Redis
        self._closed_permit: Permit | None = None
        # The batch of a closed breaker's successes not yet recorded in Redis.
        self._ok_lock = threading.Lock()
        self._ok_n, self._ok_gen, self._ok_since = 0, 0, 0.0
        # Guards the fallback flags and the local store between threads of one process; held
        # only for one state operation (milliseconds), never around the venue call itself.
        self._lock = threading.RLock()

    # --- reading ------------------------------------------------------------------------
    @property
    def config(self) -> BreakerConfig:
        return settings.RELIABILITY_BREAKERS[self.venue_api]

    @property
    def degraded(self) -> bool:
        """True while this process runs on its local fallback (Redis unreachable)."""
        return self._degraded

    @property
    def state(self) -> BreakerState:
        return BreakerState(self.snapshot()["state"])

    def allows_calls(self) -> bool:
        """Would a call be let through now? (Open past its recovery time: a probe may go.)"""
        snap = self.snapshot()
        return snap["allows_calls"]

    def allows_calls_cached(self) -> bool:
        """allows_calls(), answered without a trip to Redis while this process's view is a
        closed breaker seen on Redis less than cache_seconds ago (the call path's bound: a
        breaker opened anywhere is seen within cache_seconds); else allows_calls()."""
        if self.seen_closed() and runtime().clock() - self._seen_at < self.config.cache_seconds:
            return True
        return self.allows_calls()

    def snapshot(self) -> dict:
        raw = self._run("peek")
        now = runtime().clock()
        state = BreakerState(raw.get("state") or "closed")
        retry_at = _num(raw.get("retry_at"))
        if state is BreakerState.HALF_OPEN:
            lease = _num(raw.get("probe_lease")) or 0.0
            allows = int(raw.get("probes") or 0) < self.config.half_open_calls or now >= lease
        elif state is BreakerState.OPEN:
            allows = retry_at is not None and now >= retry_at
        else:
            allows = state is not BreakerState.FORCED_OPEN
        publish_state(self.venue_api, state)
        return {
            "venue_api": self.venue_api,
            "state": str(state),
            "allows_calls": allows,
            "consecutive_failures": int(raw.get("consec") or 0),
            "window_calls": int(raw.get("win_calls") or 0),
            "window_failures": int(raw.get("win_fails") or 0),
            "opened_at": _num(raw.get("opened_at")),
            "retry_at": retry_at,
            "since": _num(raw.get("since")),
            "last_trigger": raw.get("trigger") or "",
            "actor": raw.get("actor") or "",
            "reason": raw.get("reason") or "",
            "degraded": self._degraded,
        }

    # --- the call path (used by guarded_call) --------------------------------------------
    def check(self) -> None:
        """Fail fast (BreakerOpenError) without taking a probe slot when no call would pass."""
        snap = self.snapshot()
        if not snap["allows_calls"]:
            BREAKER_REJECTED_CALLS.labels(venue=self.venue_api).inc()
            retry_at = snap["retry_at"]
            wait = None if retry_at is None else max(0.0, retry_at - runtime().clock())
            raise BreakerOpenError(
                self.venue_api,
                retry_after=wait,
                forced=snap["state"] == BreakerState.FORCED_OPEN,
            )

    def acquire(self) -> Permit:
        """Let one call through or raise BreakerOpenError (sent=False)."""
        return self._permit(self._run("acquire"))

    # --- one round trip with the rate budget (reliability.guard) ------------------------
    @property
    def last_seen_state(self) -> BreakerState:
        """The state this process saw last, on Redis or its fallback (no round trip)."""
        return self._last_state

    def seen_closed(self) -> bool:
        """This process last saw the breaker closed, on Redis (not on its local fallback)."""
        return not self._degraded and self._last_state is BreakerState.CLOSED

    def local_permit(self, now: float) -> Permit | None:
        """A permit without a trip to Redis: this process saw the breaker closed on Redis
        less than cache_seconds ago. None: ask Redis (queue_acquire or acquire)."""
        if self._last_state is not BreakerState.CLOSED or self._degraded:
            return None
        if now - self._seen_at >= self.config.cache_seconds:
            return None
        permit = self._closed_permit
        if permit is None or permit.gen != self._last_gen:
            permit = self._closed_permit = Permit(gen=self._last_gen, probe=False)
        return permit

    def queue_acquire(self, pipe) -> tuple[int, int]:
        """Adds an acquire to a Redis pipeline (hand its reply to permit()), recording this
        process's batch of successes first. Returns the batch (count, generation): hand it
        to replay_successes() if the trip failed."""
        batch = self.take_successes()
        self._redis.queue_acquire(pipe, self.venue_api, runtime().clock(), self.config, batch)
        return batch

    # --- successes in batches -----------------------------------------------------------
    def note_success(self, permit: Permit, now: float) -> bool:
        """Adds a closed breaker's success (not a probe, not a slow call) to this process's
        batch. True when the batch is due (cache_seconds old): send it (queue_successes)."""
        with self._ok_lock:
            if self._ok_n == 0 or self._ok_gen != permit.gen:
                # a batch of another generation would be stale in Redis: it is dropped
                self._ok_n, self._ok_gen, self._ok_since = 0, permit.gen, now
                _flusher.ensure_running()
            self._ok_n += 1
            return now - self._ok_since >= self.config.cache_seconds

    def flush_if_due(self, now: float) -> None:
        """Records a batch that is cache_seconds old (the flusher thread: a process that
        stopped making calls records its last successes all the same)."""
        with self._lock:
            if self._ok_n and now - self._ok_since >= self.config.cache_seconds:
                self.flush_successes()

    def take_successes(self) -> tuple[int, int]:
        """The batch (count, generation), no longer held by this process."""
        with self._ok_lock:
            batch = (self._ok_n, self._ok_gen)
            self._ok_n = 0
        return batch

    def queue_successes(self, pipe) -> tuple[int, int]:
        """Adds the batch of successes to a Redis pipeline (reply through recorded());
        returns the batch for replay_successes() should it fail."""
        count, gen = batch = self.take_successes()
        if count:
            self._redis.queue_record(
                pipe, self.venue_api, runtime().clock(), self.config, ok=True, gen=gen,
                probe=False, count=count,
            )  # fmt: skip
        return batch

    def replay_successes(self, batch: tuple[int, int]) -> None:
        """Records a batch whose trip failed, the ordinary way (local fallback included)."""
        count, gen = batch
        if count:
            self._run("record", ok=True, gen=gen, probe=False, count=count)

    def flush_successes(self) -> None:
        """Records the batch now (before any other change of state by this process)."""
        count, gen = self.take_successes()
        if count:
            with self._lock:
                self._run_locked("record", ok=True, gen=gen, probe=False, count=count)

    def permit(self, reply, *, sent_at: float) -> Permit:
        """The Permit of a queued acquire's reply (sent at sent_at), or BreakerOpenError."""
        step = RedisBreakerStore._step(reply)
        self._after(step, local=False, actor="system", reason="", cause="", seen_at=sent_at)
        publish_state(self.venue_api, step.state)  # as check() does on the step-by-step path
        return self._permit(step)

    def recorded(self, reply) -> None:
        """Takes in a queued record's reply (logs and stores a transition it made)."""
        self._after(
            RedisBreakerStore._step(reply), local=False, actor="system", reason="", cause=""
        )

    def _permit(self, step: Step) -> Permit:
        if step.verdict == "deny":
            BREAKER_REJECTED_CALLS.labels(venue=self.venue_api).inc()
            now = runtime().clock()
            wait = None if step.retry_at is None else max(0.0, step.retry_at - now)
            raise BreakerOpenError(
                self.venue_api,
                retry_after=wait,
                forced=step.state is BreakerState.FORCED_OPEN,
            )
        return Permit(gen=step.gen, probe=step.verdict == "probe")

    def record_success(self, permit: Permit) -> None:
        self._run("record", ok=True, gen=permit.gen, probe=permit.probe)

    def record_failure(self, permit: Permit, *, cause: str = "") -> None:
        self._run("record", ok=False, gen=permit.gen, probe=permit.probe, cause=cause)

    def open_until(self, until: float, *, reason: str = "") -> None:
        """A venue ban (HTTP 418): open until it ends, whatever the thresholds say."""
        self._run("ban", until=until, reason=reason)

    # --- operators ----------------------------------------------------------------------
    def force_open(self, *, by: str, reason: str = "") -> BreakerState:
        return self._operate("force_open", by, reason)

    def force_close(self, *, by: str, reason: str = "") -> BreakerState:
        return self._operate("force_close", by, reason)

    def reset(self, *, by: str, reason: str = "") -> BreakerState:
        return self._operate("reset", by, reason)

    def _operate(self, action: str, by: str, reason: str) -> BreakerState:
        if not by:
            raise ValueError("operator actions name the operator (by=...)")
        if not self._redis_usable():
            raise BreakerStoreUnavailable(
                f"Redis is unreachable: {action} of {self.venue_api} would reach this process only"
            )
        target = OPERATOR_ACTIONS[action]
        step = self._run("operator", action=action, target=str(target), actor=by, reason=reason)
        return step.state

    # --- store selection and fallback ----------------------------------------------------
    def _redis_usable(self) -> bool:
        if self._degraded:
            self._run("peek")  # tries Redis again when its time has come
        return not self._degraded

    def _run(self, op: str, **kw):
        channel().drain()  # this thread's deferred commands reach Redis before this one
        with self._lock:
            if op != "peek":
                self.flush_successes()  # and this process's batch of successes
            return self._run_locked(op, **kw)

    def _run_locked(self, op: str, **kw):
        rt = runtime()
        now = rt.clock()
        config = self.config
        actor = kw.pop("actor", "system")
        reason = kw.pop("reason", "")
        cause = kw.pop("cause", "")
        args = {**kw}
        if op == "operator":
            args.update(actor=actor, reason=reason)
        if not self._degraded or now >= self._next_redis_try:
            try:
                if self._degraded:
                    self._recover(now, config)
                result = getattr(self._redis, op)(self.venue_api, now, config, **args)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._fall_back(now, exc)
            else:
                self._after(
                    result, local=False, actor=actor, reason=reason, cause=cause, seen_at=now
                )
                return result
        result = getattr(self._local, op)(self.venue_api, now, config, **args)
        self._after(result, local=True, actor=actor, reason=reason, cause=cause)
        return result

    def _after(
        self,
        result,
        *,
        local: bool,
        actor: str,
        reason: str,
        cause: str,
        seen_at: float | None = None,
    ) -> None:
        """Takes in a store's answer. seen_at: when the request it answers was sent (Redis's
        state is at least that recent: it renews this process's view from that time; a
        deferred reply, read later, does not renew it)."""
        if not local and seen_at is not None:
            self._seen_at = seen_at
        if isinstance(result, Step):
            self._last_state, self._last_retry_at = result.state, result.retry_at
            self._last_gen = result.gen
            if result.transition:
                details = {"retry_at": result.retry_at}
                if cause:
                    details["cause"] = cause
                record_transition(
                    self.venue_api,
                    result.transition,
                    actor=actor,
                    reason=reason,
                    local=local,
                    details=details,
                )
        elif isinstance(result, dict):
            self._last_state = BreakerState(result.get("state") or "closed")
            self._last_retry_at = _num(result.get("retry_at"))
            self._last_gen = int(result.get("gen") or 0)

    def _fall_back(self, now: float, exc: Exception) -> None:
        self._next_redis_try = now + settings.RELIABILITY_REDIS_RETRY_SECONDS
        if self._degraded:
            return
        self._degraded = True
        self._local.seed(self.venue_api, self._last_state, self._last_retry_at, now)
        log.error(
            "breaker.redis_unreachable",
            venue_api=self.venue_api,
            error=f"{type(exc).__name__}: {exc}"[:200],
            local_state=str(self._last_state),
        )

    def _recover(self, now: float, config: BreakerConfig) -> None:
        """Redis answers again: hand it this process's view if it came back empty."""
        local = self._local.peek(self.venue_api, now, config)
        if local["state"] != BreakerState.CLOSED:
            self._redis.restore(
                self.venue_api,
                now,
                config,
                state=local["state"],
                retry_at=_num(local["retry_at"]),
                actor="system",
                reason="local state adopted after Redis came back empty",
            )
        else:
            self._redis.peek(self.venue_api, now, config)  # raises while Redis is still down
        self._degraded = False
        log.warning("breaker.redis_recovered", venue_api=self.venue_api)


def _num(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


_breakers: dict[str, Breaker] = {}


def breaker_for(venue_api: str) -> Breaker:
    """This process's handle on one venue API's shared breaker."""
    breaker = _breakers.get(venue_api)
    if breaker is None:
        breaker = _breakers[venue_api] = Breaker(venue_api)
    return breaker


def all_breakers() -> dict[str, dict]:
    """Snapshot of every venue API's breaker (state, failure counts, opened_at, retry_at)."""
    return {api: breaker_for(api).snapshot() for api in settings.VENUE_APIS}


def forget_breakers() -> None:
    """Drop this process's handles (tests; after a fork the handles are rebuilt anyway)."""
    _breakers.clear()


class _Flusher:
    """One daemon thread per process recording batches of successes that grew old while no
    call came to take them along (started on demand, again after a fork)."""

    def __init__(self):
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._pid == os.getpid() and self._thread is not None:
            return
        with self._start_lock:
            if self._pid == os.getpid() and self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._loop, name="breaker-success-flusher", daemon=True
            )
            self._pid = os.getpid()
            self._thread.start()

    @staticmethod
    def _loop() -> None:
        import time

        while True:
            breakers = list(_breakers.values())
            wait = min((b.config.cache_seconds for b in breakers), default=0.1)
            time.sleep(max(wait, 0.02))
            now = runtime().clock()
            for breaker in breakers:
                try:
                    breaker.flush_if_due(now)
                except Exception as exc:  # never let the thread die
                    log.error("breaker.flush_failed", error=f"{type(exc).__name__}: {exc}"[:200])


_flusher = _Flusher()


def _after_fork_in_child() -> None:
    """A forked child asks Redis first and does not record its parent's successes."""
    for breaker in _breakers.values():
        breaker.take_successes()
        breaker._seen_at = float("-inf")


os.register_at_fork(after_in_child=_after_fork_in_child)

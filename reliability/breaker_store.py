"""Where a breaker's state lives: Redis (shared, atomic through one Lua script) or, while Redis
is unreachable, a local in-process machine with the same rules and the same transition table.

Both stores answer every operation with a Step; a Step with `transition` set means this very
call made the move (so exactly one process logs, counts and stores each transition).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import redis

from reliability.conf import BreakerConfig
from reliability.transitions import BreakerState, IllegalTransition, check, lua_table

_LUA = (Path(__file__).parent / "lua" / "breaker.lua").read_text()
SCRIPT = _LUA.replace("__TRANSITIONS__", lua_table())


@dataclass(frozen=True)
class Step:
    verdict: str  # allow | probe | deny (acquire); ok | stale (record, ban, operator)
    gen: int  # the breaker's generation (bumped by every transition)
    state: BreakerState
    retry_at: float | None
    transition: tuple[str, str, str] | None = None  # (from, to, trigger) made by this call


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _config_args(config: BreakerConfig) -> list:
    return [
        config.failure_count,
        config.failure_rate,
        config.minimum_calls,
        config.window_seconds,
        config.recovery_seconds,
        config.half_open_calls,
    ]


class RedisBreakerStore:
    def __init__(self, client_factory):
        self._client_factory = client_factory
        self._scripts: dict[int, object] = {}

    def _script(self):
        client = self._client_factory()
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(SCRIPT)
        return script

    @staticmethod
    def _keys(venue_api: str) -> list[str]:
        return [f"reliability:breaker:{venue_api}", f"reliability:breaker:{venue_api}:window"]

    def queue_acquire(
        self, pipe, venue_api: str, now: float, config: BreakerConfig, successes=(0, -1)
    ) -> None:
        """Adds an acquire to a Redis pipeline (its reply goes through _step), recording a
        batch of successes (count, generation) first."""
        keys = self._keys(venue_api)
        args = ["acquire", repr(now), *_config_args(config), *successes]
        pipe.evalsha(self._script().sha, len(keys), *keys, *args)

    def queue_record(
        self, pipe, venue_api, now, config, *, ok: bool, gen: int, probe: bool, count: int = 1
    ):
        """Adds a record (as record() makes it) to a Redis pipeline (reply through _step)."""
        keys = self._keys(venue_api)
        outcome = "success" if ok else "failure"
        args = ["record", repr(now), *_config_args(config), outcome, gen, int(probe), count]
        pipe.evalsha(self._script().sha, len(keys), *keys, *args)

    def _run(self, venue_api: str, op: str, now: float, config: BreakerConfig, *extra):
        script = self._script()
        keys = self._keys(venue_api)
        args = [op, repr(now), *_config_args(config), *extra]
        try:
            return script(keys=keys, args=args)
        except redis.ResponseError as exc:
            text = str(exc)
            if "illegal breaker transition" in text:
                frm, _, rest = text.split("transition ", 1)[1].partition(" -> ")
                to, _, trigger = rest.partition(" (")
                raise IllegalTransition(frm, to, trigger.rstrip(")")) from None
            raise

    @staticmethod
    def _step(reply) -> Step:
        verdict, gen, state, retry_at, frm, to, trigger = (
            v.decode() if isinstance(v, bytes) else str(v) for v in reply
        )
        return Step(
            verdict,
            int(gen),
            BreakerState(state),
            _float(retry_at),
            (frm, to, trigger) if to else None,
        )

    def acquire(self, venue_api, now, config) -> Step:
        return self._step(self._run(venue_api, "acquire", now, config))

    def record(
        self, venue_api, now, config, *, ok: bool, gen: int, probe: bool, count: int = 1
    ) -> Step:
        outcome = "success" if ok else "failure"
        return self._step(
            self._run(venue_api, "record", now, config, outcome, gen, int(probe), count)
        )

    def ban(self, venue_api, now, config, *, until: float) -> Step:
        return self._step(self._run(venue_api, "ban", now, config, repr(until)))

    def operator(self, venue_api, now, config, *, action, target, actor, reason) -> Step:
        return self._step(
            self._run(venue_api, "operator", now, config, action, target, actor, reason)
        )

    def restore(self, venue_api, now, config, *, state, retry_at, actor, reason) -> Step:
        retry = "" if retry_at is None else repr(retry_at)
        return self._step(self._run(venue_api, "restore", now, config, state, retry, actor, reason))

    def peek(self, venue_api, now, config) -> dict:
        flat = self._run(venue_api, "peek", now, config)
        return dict(zip(flat[::2], flat[1::2], strict=True))


class _Machine:
    """One breaker's state in this process (the Redis script's rules, in Python)."""

    def __init__(self):
        self.state = BreakerState.CLOSED
        self.gen = 0
        self.consec = 0
        self.calls: deque[tuple[float, bool]] = deque()
        self.probes = self.probe_ok = 0
        self.probe_lease = 0.0
        self.opened_at: float | None = None
        self.retry_at: float | None = None
        self.since: float | None = None
        self.trigger = self.actor = self.reason = ""
        self.moved: tuple[str, str, str] | None = None

    def move(self, to: BreakerState, trigger: str, now: float, actor="system", reason=""):
        check(self.state, to, trigger)
        self.moved = (str(self.state), str(to), trigger)
        self.state, self.gen, self.since = to, self.gen + 1, now
        self.trigger, self.actor, self.reason = trigger, actor, reason

    def open_until(self, now: float, until: float):
        self.opened_at, self.retry_at = now, until
        self.probes = self.probe_ok = self.consec = 0
        self.calls.clear()

    def window(self, now: float, config: BreakerConfig) -> tuple[int, int]:
        while self.calls and self.calls[0][0] <= now - config.window_seconds:
            self.calls.popleft()
        return len(self.calls), sum(1 for _, failed in self.calls if failed)

    def step(self, verdict: str, retry_at: float | None = None) -> Step:
        moved, self.moved = self.moved, None
        retry = self.retry_at if retry_at is None else retry_at
        return Step(verdict, self.gen, self.state, retry, moved)


class LocalBreakerStore:
    def __init__(self):
        self._machines: dict[str, _Machine] = {}

    def machine(self, venue_api: str) -> _Machine:
        return self._machines.setdefault(venue_api, _Machine())

    def seed(self, venue_api: str, state: BreakerState, retry_at: float | None, now: float):
        """Start from the last state seen in Redis (an open breaker stays open locally)."""
        m = self._machines[venue_api] = _Machine()
        if state is BreakerState.HALF_OPEN:
            state, retry_at = BreakerState.OPEN, now
        m.state, m.since, m.trigger = state, now, "seed"
        if state is BreakerState.OPEN:
            m.opened_at, m.retry_at = now, retry_at if retry_at is not None else now

    def acquire(self, venue_api, now, config) -> Step:
        m = self.machine(venue_api)
        if m.state is BreakerState.FORCED_OPEN:
            return m.step("deny")
        if m.state is BreakerState.OPEN:
            if now < (m.retry_at or 0):
                return m.step("deny")
            m.move(BreakerState.HALF_OPEN, "recovery_timeout", now)
            m.probes = m.probe_ok = 0
        if m.state is BreakerState.HALF_OPEN:
            if m.probes > 0 and now >= m.probe_lease:
                m.probes = m.probe_ok = 0
            if m.probes >= config.half_open_calls:
                return m.step("deny", m.probe_lease)
            m.probes += 1
            m.probe_lease = now + config.recovery_seconds
            return m.step("probe")
        return m.step("allow")

    def record(
        self, venue_api, now, config, *, ok: bool, gen: int, probe: bool, count: int = 1
    ) -> Step:
        m = self.machine(venue_api)
        if gen != m.gen:
            return m.step("stale")
        if m.state is BreakerState.CLOSED:
            m.consec = 0 if ok else m.consec + 1
            m.calls.extend([(now, not ok)] * (count if ok else 1))
            calls, fails = m.window(now, config)
            trigger = None
            if not ok and config.failure_count and m.consec >= config.failure_count:
                trigger = "failures"
            elif (
                not ok
                and config.failure_rate
                and calls >= config.minimum_calls
                and fails / calls >= config.failure_rate
            ):
                trigger = "failure_rate"
            if trigger:
                m.move(BreakerState.OPEN, trigger, now)
                m.open_until(now, now + config.recovery_seconds)
        elif m.state is BreakerState.HALF_OPEN and probe:
            if ok:
                m.probe_ok += 1
                if m.probe_ok >= config.half_open_calls:
                    m.move(BreakerState.CLOSED, "probe_success", now)
                    m.probes = m.probe_ok = m.consec = 0
                    m.retry_at = None
                    m.calls.clear()
            else:
                m.move(BreakerState.OPEN, "probe_failure", now)
                m.open_until(now, now + config.recovery_seconds)
        return m.step("ok")

    def ban(self, venue_api, now, config, *, until: float) -> Step:
        m = self.machine(venue_api)
        if m.state in (BreakerState.CLOSED, BreakerState.HALF_OPEN) or (
            m.state is BreakerState.OPEN and until > (m.retry_at or 0)
        ):
            m.move(BreakerState.OPEN, "ban", now)
            m.open_until(now, until)
        return m.step("ok")

    def operator(self, venue_api, now, config, *, action, target, actor, reason) -> Step:
        m = self.machine(venue_api)
        m.move(BreakerState(target), action, now, actor, reason)
        if target == BreakerState.CLOSED:
            m.probes = m.probe_ok = m.consec = 0
            m.retry_at = m.opened_at = None
            m.calls.clear()
        elif target == BreakerState.FORCED_OPEN:
            m.opened_at, m.retry_at = now, None
        return m.step("ok")

    def peek(self, venue_api, now, config) -> dict:
        m = self.machine(venue_api)
        calls, fails = m.window(now, config)
        return {
            "state": str(m.state),
            "gen": str(m.gen),
            "consec": str(m.consec),
            "opened_at": "" if m.opened_at is None else repr(m.opened_at),
            "retry_at": "" if m.retry_at is None else repr(m.retry_at),
            "since": "" if m.since is None else repr(m.since),
            "trigger": m.trigger,
            "actor": m.actor,
            "reason": m.reason,
            "probes": str(m.probes),
            "probe_lease": repr(m.probe_lease),
            "win_calls": str(calls),
            "win_fails": str(fails),
        }

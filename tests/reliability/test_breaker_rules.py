"""The breaker's rules, run against both stores: Redis (the Lua script) and the local fallback."""

from __future__ import annotations

import pytest

from monitoring.redis import state_client
from reliability.breaker_store import LocalBreakerStore, RedisBreakerStore
from reliability.conf import BreakerConfig
from reliability.transitions import (
    TRANSITIONS,
    BreakerState,
    IllegalTransition,
    check,
    lua_table,
)

API = "binance.usdm"
T0 = 1_800_000_000.0
CFG = BreakerConfig(
    failure_count=3,
    failure_rate=0.5,
    minimum_calls=10,
    window_seconds=60,
    slow_call_seconds=1,
    recovery_seconds=30,
    half_open_calls=1,
)


@pytest.fixture(params=["redis", "local"])
def store(request):
    return RedisBreakerStore(state_client) if request.param == "redis" else LocalBreakerStore()


def fail(store, now, cfg=CFG, *, probe=False, gen=None):
    if gen is None:
        gen = store.acquire(API, now, cfg).gen
    return store.record(API, now, cfg, ok=False, gen=gen, probe=probe)


def test_it_trips_after_consecutive_failures_and_refuses_until_recovery(store):
    assert fail(store, T0).transition is None
    assert fail(store, T0 + 1).transition is None
    step = fail(store, T0 + 2)
    assert step.transition == ("closed", "open", "failures")
    assert step.state is BreakerState.OPEN
    assert step.retry_at == pytest.approx(T0 + 32)
    denied = store.acquire(API, T0 + 31.9, CFG)
    assert denied.verdict == "deny"


def test_a_success_resets_the_consecutive_count(store):
    fail(store, T0)
    fail(store, T0)
    gen = store.acquire(API, T0, CFG).gen
    store.record(API, T0, CFG, ok=True, gen=gen, probe=False)
    assert fail(store, T0).transition is None
    assert fail(store, T0).transition is None
    assert fail(store, T0).transition == ("closed", "open", "failures")


def test_it_trips_on_the_failure_rate_over_the_window(store):
    cfg = BreakerConfig(failure_count=0, failure_rate=0.5, minimum_calls=10, window_seconds=60)
    gen = store.acquire(API, T0, cfg).gen
    for i in range(5):  # alternate so the consecutive rule could never fire
        store.record(API, T0 + i, cfg, ok=True, gen=gen, probe=False)
        step = store.record(API, T0 + i, cfg, ok=False, gen=gen, probe=False)
        if i < 4:
            assert step.transition is None, i
    assert step.transition == ("closed", "open", "failure_rate")


def test_failures_older_than_the_window_do_not_count(store):
    cfg = BreakerConfig(failure_count=0, failure_rate=0.5, minimum_calls=4, window_seconds=10)
    gen = store.acquire(API, T0, cfg).gen
    for _ in range(3):
        store.record(API, T0, cfg, ok=False, gen=gen, probe=False)
    later = T0 + 30  # the three failures left the window
    for _ in range(3):
        assert store.record(API, later, cfg, ok=True, gen=gen, probe=False).transition is None
    assert store.record(API, later, cfg, ok=False, gen=gen, probe=False).transition is None


def test_half_open_lets_exactly_the_permitted_probes_through(store):
    for i in range(3):
        fail(store, T0 + i)
    first = store.acquire(API, T0 + 40, CFG)
    assert first.verdict == "probe"
    assert first.transition == ("open", "half_open", "recovery_timeout")
    assert store.acquire(API, T0 + 40, CFG).verdict == "deny"
    ok = store.record(API, T0 + 41, CFG, ok=True, gen=first.gen, probe=True)
    assert ok.transition == ("half_open", "closed", "probe_success")
    assert store.acquire(API, T0 + 41, CFG).verdict == "allow"


def test_a_failed_probe_opens_again_for_a_full_recovery_time(store):
    for i in range(3):
        fail(store, T0 + i)
    probe = store.acquire(API, T0 + 40, CFG)
    step = store.record(API, T0 + 40, CFG, ok=False, gen=probe.gen, probe=True)
    assert step.transition == ("half_open", "open", "probe_failure")
    assert step.retry_at == pytest.approx(T0 + 70)
    assert store.acquire(API, T0 + 69, CFG).verdict == "deny"


def test_several_permitted_probes_must_all_succeed(store):
    cfg = BreakerConfig(failure_count=1, recovery_seconds=10, half_open_calls=2)
    fail(store, T0, cfg)
    a = store.acquire(API, T0 + 10, cfg)
    b = store.acquire(API, T0 + 10, cfg)
    assert (a.verdict, b.verdict) == ("probe", "probe")
    assert store.acquire(API, T0 + 10, cfg).verdict == "deny"
    assert store.record(API, T0 + 11, cfg, ok=True, gen=a.gen, probe=True).transition is None
    done = store.record(API, T0 + 11, cfg, ok=True, gen=b.gen, probe=True)
    assert done.transition == ("half_open", "closed", "probe_success")


def test_a_probe_that_never_reports_is_replaced_after_its_lease(store):
    cfg = BreakerConfig(failure_count=1, recovery_seconds=10, half_open_calls=1)
    fail(store, T0, cfg)
    assert store.acquire(API, T0 + 10, cfg).verdict == "probe"
    assert store.acquire(API, T0 + 19, cfg).verdict == "deny"
    assert store.acquire(API, T0 + 20, cfg).verdict == "probe"


def test_late_results_from_an_older_generation_are_ignored(store):
    old = store.acquire(API, T0, CFG).gen
    for i in range(3):
        fail(store, T0 + i)
    step = store.record(API, T0 + 5, CFG, ok=True, gen=old, probe=False)
    assert step.verdict == "stale"
    assert step.state is BreakerState.OPEN


def test_a_ban_opens_until_it_ends_and_only_extends(store):
    step = store.ban(API, T0, CFG, until=T0 + 120)
    assert step.transition == ("closed", "open", "ban")
    assert store.acquire(API, T0 + 119, CFG).verdict == "deny"
    assert store.ban(API, T0 + 1, CFG, until=T0 + 60).transition is None  # shorter: ignored
    longer = store.ban(API, T0 + 1, CFG, until=T0 + 300)
    assert longer.transition == ("open", "open", "ban")
    assert store.acquire(API, T0 + 299, CFG).verdict == "deny"
    assert store.acquire(API, T0 + 300, CFG).verdict == "probe"


def test_operators_force_and_reset(store):
    def op(action, target):
        return store.operator(
            API, T0, CFG, action=action, target=target, actor="alice", reason="maintenance"
        )

    assert op("force_open", "forced_open").transition == ("closed", "forced_open", "force_open")
    assert store.acquire(API, T0 + 10_000, CFG).verdict == "deny"  # holds past any timeout
    assert store.ban(API, T0, CFG, until=T0 + 5).transition is None  # operator wins
    assert op("force_close", "forced_closed").state is BreakerState.FORCED_CLOSED
    for i in range(10):
        assert fail(store, T0 + i).transition is None  # forced closed never trips
    assert store.acquire(API, T0, CFG).verdict == "allow"
    assert op("reset", "closed").transition == ("forced_closed", "closed", "reset")
    peek = store.peek(API, T0, CFG)
    assert peek["state"] == "closed"
    assert peek["actor"] == "alice"


def test_an_illegal_operator_move_raises_and_changes_nothing(store):
    store.operator(API, T0, CFG, action="force_open", target="forced_open", actor="a", reason="")
    with pytest.raises(IllegalTransition) as err:
        store.operator(
            API, T0, CFG, action="force_open", target="forced_open", actor="b", reason=""
        )
    assert (err.value.from_state, err.value.to_state) == ("forced_open", "forced_open")
    assert store.peek(API, T0, CFG)["actor"] == "a"


def test_the_table_refuses_anything_it_does_not_list():
    check("closed", "open", "failures")
    with pytest.raises(IllegalTransition):
        check("closed", "half_open", "recovery_timeout")
    with pytest.raises(IllegalTransition):
        check("open", "closed", "probe_success")
    # the Lua script is generated from the very same table
    for (frm, to), triggers in TRANSITIONS.items():
        for trigger in triggers:
            assert f'["{frm}>{to}"]' in lua_table()
            assert f"{trigger} = true" in lua_table()

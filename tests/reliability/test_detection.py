"""Fast outage detection: a venue-health failure on a closed breaker is confirmed at once with
pings (reliability/detection.py). Scripted venue on a fake clock first, then the emulator over
real HTTP with a real outage."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from bench._venue import limit_order
from bench._venue import place as place_order
from monitoring.redis import state_client
from reliability import detection
from reliability.breaker import breaker_for
from reliability.conf import DetectionConfig, detection_config_from_env
from reliability.errors import (
    FatalError,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)
from reliability.guard import guarded_call
from trading.env import EnvError

pytestmark = pytest.mark.django_db

API = "binance.spot"


class Venue:
    """A scripted venue API: its ping fails while `down` (or for the next `failing_pings`)."""

    def __init__(self, clock, *, ping_seconds: float = 0.0):
        self.clock, self.ping_seconds = clock, ping_seconds
        self.down = False
        self.failing_pings = 0
        self.pings: list[float] = []

    def ping(self):
        def exchange():
            self.pings.append(self.clock())
            self.clock.advance(self.ping_seconds)
            if self.down or self.failing_pings > 0:
                self.failing_pings -= 1
                raise RetryableError("connection refused", venue=API, sent=False)
            return "pong"

        return guarded_call(API, detection.PROBE_OPERATION, exchange)

    def fails(self, exc):
        def call():
            raise exc

        return call


@pytest.fixture
def venue(fake_clock, monkeypatch):
    scripted = Venue(fake_clock)
    monkeypatch.setitem(detection._probers, API, scripted.ping)
    return scripted


def submit(fn):
    """One order: guarded_call as the adapters make it; returns the error it raised."""
    try:
        guarded_call(API, "submit", fn)
    except Exception as exc:  # the test looks at which one
        return exc
    return None


def outage_503():
    return OutcomeUnknownError("Service Unavailable", venue=API, status=503)


def confirmations(verdict: str) -> float:
    value = REGISTRY.get_sample_value(
        "breaker_detection_confirmations_total", {"venue": API, "verdict": verdict}
    )
    return value or 0.0


def test_it_opens_the_breaker_within_a_second_of_the_first_503_at_one_order_per_second(
    venue, fake_clock
):
    venue.down = True
    opened_before = confirmations("opened")
    began = fake_clock()
    error = submit(venue.fails(outage_503()))

    snap = breaker_for(API).snapshot()
    assert snap["state"] == "open"
    assert snap["last_trigger"] == "failures"
    assert snap["opened_at"] - began <= 1.0
    # The order's own failure, then 4 pings 0.2 s apart: 5 consecutive failures.
    assert venue.pings == pytest.approx([began, began + 0.2, began + 0.4, began + 0.6])
    assert isinstance(error, OutcomeUnknownError)  # the caller still learns what happened
    assert confirmations("opened") == opened_before + 1
    # The next order fails fast without reaching the venue.
    assert type(submit(venue.fails(outage_503()))).__name__ == "BreakerOpenError"


def test_without_detection_the_same_outage_needs_five_orders(venue, fake_clock, settings):
    settings.RELIABILITY_DETECTION = DetectionConfig(probes=0)
    venue.down = True
    began = fake_clock()
    for _ in range(5):
        assert breaker_for(API).snapshot()["state"] == "closed"
        submit(venue.fails(outage_503()))
        fake_clock.advance(1.0)  # 1 order/s
    snap = breaker_for(API).snapshot()
    assert snap["state"] == "open"
    assert snap["opened_at"] - began == pytest.approx(4.0)
    assert venue.pings == []


def test_a_single_5xx_on_a_healthy_venue_does_not_open_the_breaker(venue, fake_clock):
    for _ in range(8):  # one-off errors, one a second
        submit(venue.fails(outage_503()))
        fake_clock.advance(1.0)
    snap = breaker_for(API).snapshot()
    assert snap["state"] == "closed"
    assert snap["consecutive_failures"] == 0  # each successful ping reset the count
    assert len(venue.pings) == 8  # one ping per failure, and no more


def test_a_successful_ping_ends_the_confirmation(venue, fake_clock):
    venue.failing_pings = 2  # the venue restarts: two pings fail, the third gets through
    submit(venue.fails(outage_503()))
    assert len(venue.pings) == 3
    snap = breaker_for(API).snapshot()
    assert snap["state"] == "closed"
    assert snap["consecutive_failures"] == 0


@pytest.mark.parametrize(
    "exc",
    [
        RejectedError("insufficient balance", venue=API, status=400, code=-2010),
        RetryableError("too many requests", venue=API, status=429),
        FatalError("invalid API key", venue=API, status=401),
        RetryableError("timestamp outside recvWindow", venue=API, status=400, code=-1021),
    ],
    ids=["rejected", "429", "auth", "4xx"],
)
def test_business_rejections_and_other_non_health_answers_never_start_a_confirmation(venue, exc):
    venue.down = True
    submit(venue.fails(exc))
    assert venue.pings == []
    assert breaker_for(API).snapshot()["state"] == "closed"


@pytest.mark.parametrize(
    "exc",
    [
        RetryableError("connection refused", venue=API, sent=False),
        RetryableError("bad gateway", venue=API, status=502),
        OutcomeUnknownError("read timeout", venue=API),
        outage_503(),
    ],
    ids=["refused", "502", "timeout", "503"],
)
def test_every_venue_health_failure_starts_one(venue, exc):
    venue.down = True
    submit(venue.fails(exc))
    assert venue.pings, "no confirmation"
    assert breaker_for(API).snapshot()["state"] == "open"


def test_no_confirmation_while_the_breaker_is_half_open(venue, fake_clock, settings):
    settings.RELIABILITY_DETECTION = DetectionConfig(probes=0)
    venue.down = True
    for _ in range(5):
        submit(venue.fails(outage_503()))
    assert breaker_for(API).snapshot()["state"] == "open"
    settings.RELIABILITY_DETECTION = DetectionConfig()
    fake_clock.advance(31)  # past recovery: the next call is the half-open probe
    submit(venue.fails(outage_503()))
    snap = breaker_for(API).snapshot()
    assert snap["state"] == "open"
    assert snap["last_trigger"] == "probe_failure"
    assert venue.pings == []  # the probe's failure re-opened it: nothing to confirm


def test_no_confirmation_on_a_forced_closed_breaker(venue):
    breaker_for(API).force_close(by="test", reason="venue flaky, keep trading")
    venue.down = True
    submit(venue.fails(outage_503()))
    assert venue.pings == []


def test_only_one_confirmation_runs_at_a_time_across_the_fleet(venue):
    key = detection._LOCK_KEY.format(API)
    state_client().set(key, "another-worker", px=60_000)  # someone else is confirming
    busy_before = confirmations("busy")
    venue.down = True
    submit(venue.fails(outage_503()))
    assert venue.pings == []
    assert confirmations("busy") == busy_before + 1
    assert breaker_for(API).snapshot()["consecutive_failures"] == 1  # still counted
    state_client().delete(key)
    submit(venue.fails(outage_503()))
    assert len(venue.pings) == 3  # 2 failed orders + 3 failed pings: open
    assert breaker_for(API).snapshot()["state"] == "open"
    assert state_client().get(key) is None  # released when done


def test_it_claims_per_process_while_redis_is_unreachable(venue, monkeypatch):
    import redis

    class Unreachable:
        def set(self, *args, **kwargs):
            raise redis.ConnectionError("down")

    monkeypatch.setattr("monitoring.redis.state_client", lambda: Unreachable())
    token = detection._claim(API, DetectionConfig())
    assert token == detection._LOCAL
    assert detection._claim(API, DetectionConfig()) is None  # this process is confirming
    detection._release(API, token)
    assert detection._claim(API, DetectionConfig()) == detection._LOCAL
    detection._release(API, detection._LOCAL)


def test_a_confirmation_sends_no_ping_past_its_time_limit(venue, settings):
    settings.RELIABILITY_DETECTION = DetectionConfig(probes=4, max_seconds=3.0)
    venue.down = True
    venue.ping_seconds = 2.0  # a hanging venue: every ping waits out a timeout
    submit(venue.fails(OutcomeUnknownError("read timeout", venue=API)))
    assert len(venue.pings) == 2  # 0 s and 2.2 s; a third would start past 3 s


def test_a_call_that_hung_past_the_time_limit_is_not_confirmed(venue, fake_clock):
    def hung():
        fake_clock.advance(10.0)  # the read timeout
        raise OutcomeUnknownError("read timeout", venue=API)

    venue.down = True
    submit(hung)
    assert venue.pings == []  # a ping would hang as long; the failures count as they come
    assert breaker_for(API).snapshot()["consecutive_failures"] == 1


def test_the_pings_are_single_attempts_charged_to_the_rate_budget(venue, settings):
    from reliability.budget import budget_for

    # charges counted one by one: no budget leased ahead (reliability/budget.py)
    settings.RELIABILITY_RATE = dataclasses.replace(settings.RELIABILITY_RATE, lease_share=0)
    before = budget_for(API).snapshot()
    venue.down = True
    submit(venue.fails(outage_503()))
    assert len(venue.pings) == 4  # never retried: one exchange per ping
    after = budget_for(API).snapshot()
    assert _weight_used(after) - _weight_used(before) == 5  # the order and its 4 pings


def _weight_used(snapshot: dict) -> float:
    return snapshot["budgets"]["weight_1m"]["used"]


def test_detection_settings_are_validated(monkeypatch):
    assert detection_config_from_env() == DetectionConfig()
    monkeypatch.setenv("DETECTION_PROBES", "-1")
    with pytest.raises(EnvError):
        detection_config_from_env()
    monkeypatch.setenv("DETECTION_PROBES", "2")
    monkeypatch.setenv("DETECTION_PROBE_INTERVAL_SECONDS", "0.5")
    assert detection_config_from_env() == dataclasses.replace(
        DetectionConfig(), probes=2, probe_interval_seconds=0.5
    )


# --- the emulator over real HTTP ---------------------------------------------------------------
USDM = "binance.usdm"


@pytest.fixture
def usdm(emulator, fresh_reliability):
    from exchanges.registry import adapter_for, reset_adapters

    reset_adapters()
    yield adapter_for(USDM)
    reset_adapters()


def place(adapter) -> str:
    """One resting order: "placed" or the name of the error it met."""
    order = limit_order("BTCUSDT", f"det{uuid.uuid4().hex[:29]}", quantity="0.010", price="50000.0")
    return place_order(adapter, order)


@pytest.mark.parametrize("mode", ["503", "refuse"])
def test_an_outage_at_one_order_per_second_opens_the_breaker_within_two_seconds(
    usdm, emulator, mode
):
    breaker = breaker_for(USDM)
    assert place(usdm) == "placed"
    time.sleep(0.5)  # half a period since the last order: the next one is due in 0.5 s
    began = time.time()
    emulator.outage("binance", 600, mode=mode)
    outcomes = []
    try:
        due = began + 0.5
        while breaker.snapshot()["state"] != "open" and time.time() < began + 30:
            time.sleep(max(0.0, due - time.time()))
            due += 1.0  # 1 order/s
            outcomes.append(place(usdm))
        snap = breaker.snapshot()
    finally:
        emulator.end_outage("binance")
    assert snap["state"] == "open", outcomes
    assert snap["opened_at"] - began <= 2.0, (snap, outcomes)
    assert len(outcomes) == 1  # the first failing order found it


def test_one_503_on_a_healthy_emulated_venue_does_not_open_the_breaker(usdm, emulator):
    emulator.add_fault(
        "binance", "error", method="POST", path="/fapi/v1/order", status=503, count=1
    )
    assert place(usdm) == "OutcomeUnknownError"
    snap = breaker_for(USDM).snapshot()
    assert snap["state"] == "closed"
    assert snap["consecutive_failures"] == 0  # the ping that followed succeeded
    assert place(usdm) == "placed"

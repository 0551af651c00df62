"""Server-time offset tracking with an injected clock (no sleeping)."""

from __future__ import annotations

from exchanges.clock import ServerClock


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_it_needs_a_sync_before_the_first_measurement_and_after_max_age():
    clock = FakeClock()
    server = ServerClock(clock=clock, max_age=60)
    assert server.needs_sync()
    server.record(server_ms=int(clock.now * 1000), sent_at=clock.now, received_at=clock.now)
    assert not server.needs_sync()
    clock.now += 59.9
    assert not server.needs_sync()
    clock.now += 0.1
    assert server.needs_sync()


def test_it_stamps_requests_with_the_servers_time_measured_at_the_round_trip_midpoint():
    clock = FakeClock(1000.0)
    server = ServerClock(clock=clock)
    # request left at t=1000.0, answer came at t=1000.2; the server said 1002.1 s
    server.record(server_ms=1_002_100, sent_at=1000.0, received_at=1000.2)
    assert server.offset_ms == 2000.0
    clock.now = 1010.0
    assert server.now_ms() == 1_012_000


def test_invalidate_forces_a_resync():
    clock = FakeClock()
    server = ServerClock(clock=clock)
    server.record(server_ms=0, sent_at=clock.now, received_at=clock.now)
    server.invalidate()
    assert server.needs_sync()


def test_a_date_header_puts_requests_just_behind_the_server_and_asks_for_a_precise_sync():
    clock = FakeClock(1000.0)
    server = ServerClock(clock=clock)
    server.record(server_ms=1_000_000, sent_at=1000.0, received_at=1000.0)
    # the server's clock says 1445412490.x (Date has whole seconds)
    clock.now = 1445412430.25  # 60 s behind
    assert server.adopt_date_header("Wed, 21 Oct 2015 07:28:10 GMT")
    assert server.now_ms() == 1445412490_000
    assert server.needs_sync()


def test_an_unreadable_date_header_changes_nothing():
    clock = FakeClock()
    server = ServerClock(clock=clock)
    server.record(server_ms=int(clock.now * 1000) + 500, sent_at=clock.now, received_at=clock.now)
    assert not server.adopt_date_header(None)
    assert not server.adopt_date_header("yesterday")
    assert server.offset_ms == 500

"""bench/_load.py, the open-loop generator: latency counts from the due time (a server that falls
behind shows in it), a server that never answers times out on schedule, large bodies are read
whole, and a server that closes early is an error, not a success."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from bench._load import Request, open_loop, send


class Server:
    """A loopback server answering one connection at a time (a sync worker), after `delay`."""

    def __init__(self, *, delay: float = 0.0, body: bytes = b"ok", answer: bool = True):
        self.delay, self.body, self.answer = delay, body, answer
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/x"
        self.served = 0
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            if not self.answer:
                self.held.append(conn)  # never answered, never closed
                continue
            time.sleep(self.delay)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.body)}\r\n\r\n".encode()
            conn.sendall(head + self.body)
            conn.close()
            self.served += 1

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def server():
    made: list[Server] = []

    def make(**kwargs) -> Server:
        made.append(Server(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_latency_counts_from_the_due_time_when_the_server_falls_behind(server):
    slow = server(delay=0.02)  # 50 requests/s at most, asked for 100/s
    result = open_loop(lambda i: Request("GET", slow.url), rate=100, seconds=0.4, warmup=0)
    assert result.row()["ok"] == 40
    by_number = sorted(result.samples)
    # the 40th request waited for the 39 before it: ~40 x 20 ms - 0.39 s after its due time
    assert by_number[-1][2] > 0.3, by_number[-1]
    assert max(result.send_lag) < 0.1  # the generator itself kept the schedule


def test_a_server_that_never_answers_times_out_on_schedule(server):
    mute = server(answer=False)
    began = time.monotonic()
    result = open_loop(
        lambda i: Request("GET", mute.url), rate=50, seconds=0.2, timeout=0.5, warmup=0
    )
    assert result.statuses == {"timeout": 10}
    assert all(0.5 <= latency < 1.5 for latency in result.latencies)
    assert time.monotonic() - began < 3


def test_a_large_body_is_read_whole(server):
    big = server(body=b"x" * 300_000)
    result = open_loop(lambda i: Request("GET", big.url), rate=50, seconds=0.1, warmup=1)
    assert result.statuses == {"200": 5}
    assert send(Request("GET", big.url), 5) == (200, b"x" * 300_000)


def test_a_response_cut_short_is_an_error():
    class Cut(Server):  # announces 100 bytes, sends 9, closes
        def _serve(self) -> None:
            conn, _ = self.sock.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
            conn.close()

    cut = Cut()
    try:
        result = open_loop(lambda i: Request("GET", cut.url), rate=10, seconds=0.1, warmup=0)
    finally:
        cut.close()
    assert result.statuses == {"ConnectionResetError": 1}


class KeepAliveServer(Server):
    """Answers every request on a connection until the client closes it (HTTP/1.1 keep-alive);
    with `close_after`, closes each connection after that many answers."""

    def __init__(self, close_after: int = 0):
        self.close_after = close_after
        super().__init__()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        answered = 0
        with conn:
            while conn.recv(65536):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                answered += 1
                self.served += 1
                if answered == self.close_after:
                    return


def test_with_keepalive_it_reuses_connections_and_reopens_closed_ones():
    kept, closing = KeepAliveServer(), KeepAliveServer(close_after=3)
    try:
        reused = open_loop(
            lambda i: Request("GET", kept.url), rate=100, seconds=0.3, warmup=2, keepalive=True
        )
        reopened = open_loop(
            lambda i: Request("GET", closing.url), rate=100, seconds=0.3, warmup=2, keepalive=True
        )
        fresh = open_loop(lambda i: Request("GET", kept.url), rate=100, seconds=0.3, warmup=2)
    finally:
        kept.close()
        closing.close()
    for result in (reused, reopened, fresh):
        assert result.statuses == {"200": 30}, result.statuses
    assert 1 <= reused.connections <= 16  # a loaded machine answers slower: a few more
    assert reopened.connections >= 32 / 3  # the server closed each after 3 answers
    assert fresh.connections == 32  # without keepalive: one per request, warm-up included


def test_the_timer_wakes_the_loop_at_the_due_time_not_the_next_millisecond():
    import selectors
    import statistics

    from bench._load import _Timer

    timer = _Timer.create()
    assert timer is not None  # Linux: timerfd is there
    selector = selectors.EpollSelector()
    selector.register(timer.fd, selectors.EVENT_READ)
    late = []
    try:
        for _ in range(30):
            due = time.monotonic() + 0.0023  # epoll's own timeout would round 2.3 ms up to 3
            timer.arm(due)
            assert selector.select(0.1)  # the timer, long before the timeout
            late.append(time.monotonic() - due)
            timer.clear()
        timer.arm(time.monotonic() - 1)  # a time already past fires at once
        assert selector.select(0.1)
    finally:
        selector.close()
        timer.close()
    assert min(late) >= 0
    assert statistics.median(late) < 0.0005, late


def test_requests_leave_on_time_and_it_still_runs_without_a_timer(server, monkeypatch):
    import statistics

    from bench import _load

    fast = server()
    timed = open_loop(lambda i: Request("GET", fast.url), rate=200, seconds=0.3, warmup=2)
    monkeypatch.setattr(_load._Timer, "create", classmethod(lambda cls: None))
    untimed = open_loop(lambda i: Request("GET", fast.url), rate=200, seconds=0.3, warmup=2)

    for result in (timed, untimed):
        assert result.statuses == {"200": 60}
        assert sorted(i for i, *_ in result.samples) == list(range(60))
    # made before they are due, sent when due: not up to a millisecond after, as epoll alone
    assert statistics.median(timed.send_lag) < 0.0005, sorted(timed.send_lag)

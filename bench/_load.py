"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the server does.

Request i is due at t0 + i / rate. Its latency is measured from that due time, not from when it
was actually sent, so a server (or a generator) that falls behind shows up in the latency
instead of silently slowing the arrivals down (no coordinated omission).

It speaks HTTP/1.1 over raw non-blocking sockets driven by one epoll loop in its own thread: per
request a socket, a connect, one send, the reads and a close (gunicorn's sync workers close the
connection after every response anyway), with no event-loop tasks, futures or stream objects.
With keepalive=True it keeps connections open and reuses an idle one for the next request, as a
trading client does (a server with keep-alive, e.g. gunicorn's gthread workers). The generator
shares the machine's cores with the server, so its CPU per request is part of what a benchmark
measures (the benchmarks report it); this loop costs a fraction of the asyncio-streams version
it replaced (README, "Active orders from the cache"). An httpx.AsyncClient, tried first, was
worse: once the server fell behind, its pool spent the generator's CPU on hundreds of queued
requests and the generator, not the server, set the latency.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench._harness import summary_ms


@dataclass(frozen=True)
class Request:
    method: str
    url: str  # http://host:port/path
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: dict[str, str] | None = None

    @classmethod
    def json(cls, method: str, url: str, payload: Any, headers: dict[str, str] | None = None):
        return cls(
            method,
            url,
            {**(headers or {}), "Content-Type": "application/json"},
            json.dumps(payload).encode(),
        )

    def encode(self, keepalive: bool = False) -> tuple[str, int, bytes]:
        parts = urlsplit(self.url)
        target = parts.path or "/"
        if self.params:
            target += "?" + urlencode(self.params)
        lines = [f"{self.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        connection = "keep-alive" if keepalive else "close"
        lines += [f"Content-Length: {len(self.body)}", f"Connection: {connection}", "", ""]
        return (
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            "\r\n".join(lines).encode() + self.body,
        )


def _parse(data: bytes, eof: bool) -> tuple[int, bytes, bool] | None:
    """(status, body, whether the server keeps the connection open) once `data` holds a whole
    response (Content-Length, or up to EOF)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if eof:
            raise ConnectionResetError("connection closed before the response's head")
        return None
    head = data[:end]
    status = int(head.split(b" ", 2)[1])
    length, close = None, head.startswith(b"HTTP/1.0")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    body = data[end + 4 :]
    if length is not None and len(body) >= length:
        return status, body[:length], not close
    if eof:
        if length is not None:
            raise ConnectionResetError("connection closed inside the response's body")
        return status, body, False
    return None


def send(request: Request, timeout: float) -> tuple[int, bytes]:
    """(status, body) of one request on a fresh connection (blocking; for checks)."""
    host, port, raw = request.encode()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            done = _parse(data := data + chunk, eof=not chunk)
            if done is not None:
                return done[0], done[1]


RequestFactory = Callable[[int], Request]


@dataclass
class LoadResult:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)  # from the due time, in seconds
    statuses: dict[str, int] = field(default_factory=dict)  # status code or error name
    send_lag: list[float] = field(default_factory=list)  # how late the generator sent
    elapsed: float = 0.0
    connections: int = 0  # connections opened, warm-up included (one per request without keepalive)
    # (request number, due time as time.time(), latency, status) of every request
    samples: list[tuple[int, float, float, str]] = field(default_factory=list)

    def row(self, **extra: Any) -> dict[str, Any]:
        s = summary_ms(self.latencies)
        ok = sum(n for code, n in self.statuses.items() if code.isdigit() and code[0] == "2")
        return {
            **extra,
            "rate": self.rate,
            "seconds": self.seconds,
            "sent": len(self.latencies),
            "ok": ok,
            "errors": len(self.latencies) - ok,
            "p50_ms": s["p50"],
            "p90_ms": s["p90"],
            "p99_ms": s["p99"],
            "max_ms": s["max"],
            "send_lag_p99_ms": summary_ms(self.send_lag)["p99"],
            "statuses": dict(sorted(self.statuses.items())),
        }

    def record(self, i: int, due: float, wall: float, latency: float, status: str) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.samples.append((i, due + wall, latency, status))


class _Timer:
    """A Linux timerfd on CLOCK_MONOTONIC (time.monotonic's clock), armed for the next request's
    due time and watched by the loop's epoll with the sockets. epoll_wait's own timeout counts in
    whole milliseconds and is rounded up, so a loop that slept on it sent each request 0-1 ms
    late (send lag p50 0.6 ms, p99 1.1-1.5 ms against a trivial server), and that lateness was
    counted in every latency; the timer wakes the loop at the due time itself."""

    _CLOCK_MONOTONIC, _ABSTIME = 1, 1
    _FLAGS = os.O_NONBLOCK | os.O_CLOEXEC  # = TFD_NONBLOCK | TFD_CLOEXEC

    class _Itimerspec(ctypes.Structure):  # struct itimerspec: two struct timespec {sec, nsec}
        _fields_ = [("interval", ctypes.c_long * 2), ("value", ctypes.c_long * 2)]

    def __init__(self, libc, fd: int):
        self.libc, self.fd = libc, fd
        self.spec = self._Itimerspec()

    @classmethod
    def create(cls) -> _Timer | None:
        """None where there is no timerfd (the loop then sleeps on epoll's timeout)."""
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.timerfd_create(cls._CLOCK_MONOTONIC, cls._FLAGS)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        with contextlib.suppress(OSError, AttributeError):
            libc.prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK: 1 ns for this thread's sleeps
        return cls(libc, fd)

    def arm(self, at: float) -> None:
        """Fires once at monotonic time `at` (at once if that has passed)."""
        seconds = int(at)
        self.spec.value[0] = seconds
        self.spec.value[1] = max(1, int((at - seconds) * 1e9))  # all zero would disarm it
        if self.libc.timerfd_settime(self.fd, self._ABSTIME, ctypes.byref(self.spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 8)

    def close(self) -> None:
        os.close(self.fd)


class _Exchange:
    """One request in flight on its own non-blocking socket."""

    __slots__ = ("address", "data", "deadline", "done", "due", "i", "raw", "reused", "sock")

    def __init__(self, i: int, due: float, deadline: float, address: tuple, raw: bytes):
        self.i, self.due, self.deadline, self.address, self.raw = i, due, deadline, address, raw
        self.sock: socket.socket | None = None
        self.data = b""
        self.done = False
        self.reused = False


class _Loop:
    def __init__(self, result: LoadResult, timeout: float, keepalive: bool):
        self.result = result
        self.timeout = timeout
        self.keepalive = keepalive
        self.idle: dict[tuple, list[socket.socket]] = {}  # keep-alive connections, by address
        self.selector = selectors.EpollSelector()
        self.timer = _Timer.create()
        if self.timer is not None:
            self.selector.register(self.timer.fd, selectors.EVENT_READ, None)
        self.inflight: deque[_Exchange] = deque()  # in the order sent: deadlines ascend
        self.wall = time.time() - time.monotonic()  # monotonic -> wall-clock time
        self.measured = True

    def launch(self, i: int, due: float, request: Request | tuple[str, int, bytes]) -> None:
        """Sends request i (a Request, or one already encoded for this loop)."""
        if isinstance(request, Request):
            request = request.encode(self.keepalive)
        host, port, raw = request
        now = time.monotonic()
        if self.measured:
            self.result.send_lag.append(max(0.0, now - due))
        exchange = _Exchange(i, due, now + self.timeout, (host, port), raw)
        self.inflight.append(exchange)
        idle = self.idle.get(exchange.address)
        if idle:
            exchange.sock, exchange.reused = idle.pop(), True
            self.write(exchange)
        else:
            self.connect(exchange)

    def connect(self, exchange: _Exchange) -> None:
        sock = exchange.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        exchange.reused = False
        self.result.connections += 1
        code = sock.connect_ex(exchange.address)
        if code == 0:
            self.write(exchange)
        elif code in (errno.EINPROGRESS, errno.EAGAIN):
            self.selector.register(sock, selectors.EVENT_WRITE, exchange)
        else:
            self.finish(exchange, _error_name(code))

    def write(self, exchange: _Exchange, registered: bool = False) -> None:
        sock = exchange.sock
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if registered else 0
        if code:
            self.finish(exchange, _error_name(code))
            return
        try:
            sock.send(exchange.raw)  # a request's few hundred bytes fit the buffer
        except OSError as exc:
            self.retry_or_finish(exchange, type(exc).__name__)
            return
        if registered:
            self.selector.modify(sock, selectors.EVENT_READ, exchange)
        else:
            self.selector.register(sock, selectors.EVENT_READ, exchange)

    def read(self, exchange: _Exchange) -> None:
        try:
            chunk = exchange.sock.recv(262144)
            exchange.data += chunk
            done = _parse(exchange.data, eof=not chunk)
        except OSError as exc:
            self.retry_or_finish(exchange, type(exc).__name__)
            return
        if done is not None:
            self.finish(exchange, str(done[0]), keep=self.keepalive and done[2])

    def retry_or_finish(self, exchange: _Exchange, status: str) -> None:
        """A kept connection the server closed meanwhile fails before any answer: the request
        goes again on a new one."""
        if exchange.reused and not exchange.data:
            self.release(exchange.sock, keep=False)
            self.connect(exchange)
        else:
            self.finish(exchange, status)

    def release(self, sock: socket.socket, keep: bool) -> None:
        with contextlib.suppress(KeyError, ValueError):  # not registered (yet)
            self.selector.unregister(sock)
        if not keep:
            sock.close()

    def finish(self, exchange: _Exchange, status: str, keep: bool = False) -> None:
        if exchange.done:
            return
        exchange.done = True
        latency = time.monotonic() - exchange.due
        if exchange.sock is not None:
            self.release(exchange.sock, keep)
            if keep:
                self.idle.setdefault(exchange.address, []).append(exchange.sock)
        exchange.data = b""
        if self.measured:
            self.result.record(exchange.i, exchange.due, self.wall, latency, status)

    def poll(self, wait: float, wake_at: float | None = None) -> None:
        """Handles what is ready within `wait` seconds; with a timer, the loop also wakes at
        monotonic time `wake_at` exactly (epoll's timeout alone may overshoot by 1 ms)."""
        if wake_at is not None and self.timer is not None:
            self.timer.arm(wake_at)
            wait += 0.002  # the timer wakes it; the timeout only backs the timer up
        for key, mask in self.selector.select(max(0.0, wait)):
            exchange = key.data
            if exchange is None:  # the timer
                self.timer.clear()
            elif mask & selectors.EVENT_WRITE:
                self.write(exchange, registered=True)
            else:
                self.read(exchange)
        now = time.monotonic()
        while self.inflight and (self.inflight[0].done or self.inflight[0].deadline <= now):
            exchange = self.inflight.popleft()
            self.finish(exchange, "timeout")  # no-op when already done

    def drain(self) -> None:
        while self.inflight:
            self.poll(self.inflight[0].deadline - time.monotonic())

    def close(self) -> None:
        for exchange in self.inflight:
            self.finish(exchange, "timeout")
        for sockets in self.idle.values():
            for sock in sockets:
                sock.close()
        self.selector.close()
        if self.timer is not None:
            self.timer.close()


def _error_name(code: int) -> str:
    exc = OSError(code, "")
    return type(exc).__name__ if type(exc) is not OSError else errno.errorcode.get(code, str(code))


def _run(
    make: RequestFactory,
    rate: float,
    seconds: float,
    timeout: float,
    warmup: int,
    keepalive: bool,
) -> LoadResult:
    result = LoadResult(rate=rate, seconds=seconds)
    loop = _Loop(result, timeout, keepalive)
    try:
        loop.measured = False
        for i in range(warmup):  # warm the server's processes and caches; not measured
            loop.launch(-1 - i, time.monotonic(), make(-1 - i))
            loop.drain()
        loop.measured = True
        count = int(rate * seconds)
        start = time.monotonic() + 0.05
        began = time.perf_counter()
        i = 0
        # each request is made and encoded before it is due, so its due time is when it leaves
        ready = make(0).encode(keepalive) if count else None
        while i < count or loop.inflight:
            now = time.monotonic()
            while i < count and start + i / rate <= now:
                loop.launch(i, start + i / rate, ready)
                i += 1
                ready = make(i).encode(keepalive) if i < count else None
                now = time.monotonic()
            due = start + i / rate if i < count else None
            until = due if due is not None else now + 0.05
            if loop.inflight:
                until = min(until, loop.inflight[0].deadline)
            loop.poll(until - time.monotonic(), wake_at=due if until == due else None)
        result.elapsed = time.perf_counter() - began
    finally:
        loop.close()
    return result


def open_loop(
    make: RequestFactory,
    *,
    rate: float,
    seconds: float,
    timeout: float = 5,
    warmup: int = 20,
    keepalive: bool = False,
) -> LoadResult:
    """Sends rate * seconds requests on a fixed schedule; returns their latencies.

    keepalive: ask the server to keep connections open and reuse an idle one for the next
    request, as a trading client does (a server with keep-alive, e.g. gunicorn's gthread
    workers); a request that finds none idle opens one, so the loop stays open.

    The load runs in its own thread, so a caller that runs an event loop in this thread (e.g. a
    test session with Playwright's sync API) can still use it.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run, make, rate, seconds, timeout, warmup, keepalive).result()

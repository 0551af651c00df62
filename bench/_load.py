"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the server does.

Request i is due at t0 + i / rate. Its latency is measured from that due time, not from when it
was actually sent, so a server (or a generator) that falls behind shows up in the latency
instead of silently slowing the arrivals down (no coordinated omission).

It speaks HTTP/1.1 over raw asyncio streams, by default one connection per request (gunicorn's
sync workers close the connection after every response anyway). With keepalive=True it keeps
connections open and reuses an idle one for the next request, as a trading client does (a
server with keep-alive, e.g. gunicorn's gthread workers): no connect and close per request on
either side. A request that finds no idle connection opens one (the loop stays open). An httpx.AsyncClient was tried
first: once the server fell behind, its connection pool spent the generator's CPU on hundreds
of queued requests and the generator, not the server, set the latency. This costs tens of
microseconds per request.
"""

from __future__ import annotations

import asyncio
import json
import time
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


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, close = None, head.startswith(b"HTTP/1.0")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    if length is None:
        return status, await reader.read(), False
    return status, await reader.readexactly(length), not close


async def send(request: Request, timeout: float) -> tuple[int, bytes]:
    """(status, body) of one request on a fresh connection."""
    host, port, raw = request.encode()

    async def exchange() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(raw)
            status, body, _open = await _read_response(reader)
            return status, body
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)


class ConnectionPool:
    """Idle keep-alive connections per (host, port); a request takes one or opens one."""

    def __init__(self):
        self.idle: dict[tuple[str, int], list] = {}
        self.opened = 0

    async def send(self, request: Request, timeout: float) -> tuple[int, bytes]:
        host, port, raw = request.encode(keepalive=True)
        idle = self.idle.setdefault((host, port), [])
        while idle:  # a connection the server closed meanwhile fails before any answer
            reader, writer = idle.pop()
            if reader.at_eof() or writer.is_closing():
                writer.close()
                continue
            try:
                return await asyncio.wait_for(self._exchange(reader, writer, raw, idle), timeout)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        self.opened += 1
        return await asyncio.wait_for(self._exchange(reader, writer, raw, idle), timeout)

    @staticmethod
    async def _exchange(reader, writer, raw: bytes, idle: list) -> tuple[int, bytes]:
        try:
            writer.write(raw)
            status, body, keep = await _read_response(reader)
        except BaseException:
            writer.close()
            raise
        if keep:
            idle.append((reader, writer))
        else:
            writer.close()
        return status, body

    def close(self) -> None:
        for connections in self.idle.values():
            for _reader, writer in connections:
                writer.close()
        self.idle.clear()


RequestFactory = Callable[[int], Request]


@dataclass
class LoadResult:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)  # from the due time, in seconds
    statuses: dict[str, int] = field(default_factory=dict)  # status code or error name
    send_lag: list[float] = field(default_factory=list)  # how late the generator sent
    elapsed: float = 0.0
    connections: int = 0  # keep-alive: connections opened (0: one per request)
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


async def _open_loop(
    make: RequestFactory, rate: float, seconds: float, timeout: float, warmup: int, keepalive: bool
):
    result = LoadResult(rate=rate, seconds=seconds)
    pool = ConnectionPool() if keepalive else None
    send_one = pool.send if pool else send
    for i in range(warmup):  # warm the server's processes and caches; not measured
        await send_one(make(-1 - i), timeout)
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    start = loop.time() + 0.05
    wall = time.time() - loop.time()  # loop time -> wall-clock time

    async def one(i: int, due: float) -> None:
        request = make(i)
        result.send_lag.append(max(0.0, loop.time() - due))
        try:
            status = str((await send_one(request, timeout))[0])
        except TimeoutError:
            status = "timeout"
        except OSError as exc:
            status = type(exc).__name__
        latency = loop.time() - due
        result.latencies.append(latency)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.samples.append((i, due + wall, latency, status))

    began = time.perf_counter()
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - began
    if pool:
        result.connections = pool.opened
        pool.close()
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

    keepalive: reuse idle connections (see the module's docstring).

    The load runs on its own event loop in its own thread, so a caller that already runs a
    loop in this thread (e.g. a test session with Playwright's sync API) can still use it.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        coro = _open_loop(make, rate, seconds, timeout, warmup, keepalive)
        return pool.submit(asyncio.run, coro).result()

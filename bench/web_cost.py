"""Web cost: what one request costs the web process, in CPU, SQL statements and Redis round trips.

The hot endpoints (POST /api/v1/orders, GET /api/v1/orders/active from the cache) are called
through the real WSGI application in this process (middleware, DRF, PostgreSQL, Redis, Celery
publish; no gunicorn, no sockets to a client), N times each. CPU time per request
(time.process_time) is what the latency targets hinge on: on a 2-core machine a request that
costs C ms of CPU caps the web tier near 2000 / C requests/s, load generator included. Unlike
latency it hardly moves with the machine's load, so runs on different commits compare.

    python -m bench.web_cost [--requests 300] [--profile 0]

--profile N prints each endpoint's N most expensive functions (cProfile on process time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
import uuid
from contextlib import contextmanager

from bench._harness import Column, Environment, Report, api_keys, instruments

COLUMNS = [
    Column("endpoint", "endpoint"),
    Column("status", "status"),
    Column("cpu_ms", "CPU ms/request", ".2f"),
    Column("wall_ms", "wall ms/request", ".2f"),
    Column("calls", "Python calls/request"),
    Column("sql", "SQL statements"),
    Column("redis", "Redis round trips"),
    Column("redis_commands", "Redis commands"),
]
ORDER = {
    "exchange": "binance",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.010",
    "time_in_force": "GTC",
}


def environ(method: str, path: str, key: str, body: bytes = b"", **headers: str) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
    }
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def accept(keys: list[str]):
    def make(i: int) -> dict:
        body = json.dumps({**ORDER, "price": f"{60000 + i % 1000}.5"}).encode()
        return environ(
            "POST", "/api/v1/orders", keys[i % len(keys)], body, IDEMPOTENCY_KEY=uuid.uuid4().hex
        )

    return make


def active(keys: list[str]):
    return lambda i: environ("GET", "/api/v1/orders/active", keys[i % len(keys)])


def call(application, env: dict) -> str:
    status: list[str] = []
    body = application(env, lambda s, _headers, _exc=None: status.append(s))
    try:
        b"".join(body)
    finally:
        body.close()
    return status[0].split()[0]


@contextmanager
def counting():
    """Counts SQL statements and Redis round trips (one packed send each) made meanwhile."""
    from django.db import connection
    from redis.connection import AbstractConnection

    counts = {"sql": 0, "redis": 0, "commands": []}
    original = AbstractConnection.send_packed_command

    def spy(conn, command, check_health=True):
        counts["redis"] += 1
        first = command if isinstance(command, bytes | str) else command[0]
        first = first.encode() if isinstance(first, str) else bytes(first)
        counts["commands"].append(first.split(b"\r\n")[2].decode())
        return original(conn, command, check_health)

    def statement(execute, sql, params, many, context):
        counts["sql"] += 1
        return execute(sql, params, many, context)

    AbstractConnection.send_packed_command = spy
    try:
        with connection.execute_wrapper(statement):
            yield counts
    finally:
        AbstractConnection.send_packed_command = original


def measure(application, name: str, make, requests: int, profile: int) -> dict:
    for i in range(20):  # keys cached, scripts loaded, instruments read, imports done
        call(application, make(-1 - i))
    with counting() as counts:
        status = call(application, make(0))
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(requests):
        call(application, make(1 + i))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    row = {
        "endpoint": name,
        "status": status,
        "cpu_ms": 1000 * cpu / requests,
        "wall_ms": 1000 * wall / requests,
        "sql": counts["sql"],
        "redis": counts["redis"],
        "redis_commands": " ".join(counts["commands"]),
    }
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for i in range(requests):
        call(application, make(requests + 1 + i))
    profiler.disable()
    stats = pstats.Stats(profiler)
    row["calls"] = round(stats.total_calls / requests)
    if profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile)
        row["profile"] = out.getvalue()
        print(f"\n== {name}: cumulative CPU, {requests} requests\n{row['profile']}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per endpoint")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args(argv)
    report = Report("web_cost", settings=vars(args))
    with Environment("web_cost"):
        from django.conf import settings

        from trading.wsgi import application

        instruments()
        keys = api_keys()
        rows = [
            measure(application, "POST /api/v1/orders", accept(keys), args.requests, args.profile),
            measure(
                application, "GET /api/v1/orders/active", active(keys), args.requests, args.profile
            ),
        ]
        throttle = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"]
        report.table(
            "cost",
            f"web_cost: one request through the WSGI app in one process, {args.requests} per "
            f"endpoint after 20 warm-up ({len(keys)} keys, throttle {throttle} each; "
            "no gunicorn, no client sockets)",
            COLUMNS,
            rows,
        )
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())

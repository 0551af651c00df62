"""Reads at scale: list/filter queries on 10 thousand vs 1 million orders, and active orders
from the cache at a fixed rate.

Two databases are loaded with COPY (psycopg): one with --small orders, one with --large, the
same shape (one account, a year of history, 100 active orders, the rest terminal). Every query
then runs against both, interleaved (query A small, query A large, query B small, ...), through
the selectors in this process and through the API of two gunicorns (one per database). The
target: each query's large-set figure <= 1.2 x its small-set figure. Last, an open-loop
generator asks GET /api/v1/orders/active at --active-rate for --active-seconds (target: p99 <=
5 ms at 500 req/s).

    python -m bench.reads [--small 10000] [--large 1000000] [--iterations 200]
    python -m bench.reads --active-only [--active-rate 500] [--active-seconds 20]
"""

from __future__ import annotations

import argparse
import contextvars
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench._harness import Column, Environment, Report, summary_ms

ACTIVE = 100  # active orders per data set, whatever its size (resting orders do not pile up)
TERMINAL_MIX = [("FILLED", 55), ("CANCELED", 35), ("EXPIRED", 5), ("REJECTED", 3), ("FAILED", 2)]
RATIO_TARGET = 1.2
ACTIVE_P99_TARGET_MS = 5.0

# --- which database a query goes to ----------------------------------------------------------
_db = contextvars.ContextVar("bench_db", default="default")


class Router:
    """Sends every ORM query to the data set being measured."""

    def db_for_read(self, model, **hints):
        return _db.get()

    def db_for_write(self, model, **hints):
        return _db.get()

    def allow_relation(self, *args, **hints):
        return True


def add_database(alias: str, url: str) -> None:
    """Registers another database (the large data set) and routes through Router."""
    from django.conf import settings
    from django.db import connections, router

    from trading.env import database_from_url

    settings.DATABASES[alias] = {**settings.DATABASES["default"], **_db_url(url, database_from_url)}
    connections.__dict__.pop("settings", None)
    settings.DATABASE_ROUTERS = [Router()]
    router.__dict__.pop("routers", None)


def _db_url(url: str, parse) -> dict:
    saved = os.environ.get("BENCH_DB_URL")
    os.environ["BENCH_DB_URL"] = url
    try:
        return parse("BENCH_DB_URL")
    finally:
        if saved is None:
            os.environ.pop("BENCH_DB_URL")
        else:
            os.environ["BENCH_DB_URL"] = saved


# --- loading ---------------------------------------------------------------------------------
def order_columns() -> list[str]:
    from orders.models import Order

    return [f.column for f in Order._meta.concrete_fields if not f.primary_key]


def order_rows(*, count: int, account_id: int, instruments: list, seed: int, now):
    """`count` orders over the year before `now`: ACTIVE recent active ones, the rest terminal."""
    rng = random.Random(seed)
    states = [s for s, w in TERMINAL_MIX for _ in range(w)]
    year = 365 * 86400
    for n in range(count):
        instrument = instruments[n % len(instruments)]
        active = n < ACTIVE
        if active:
            state = "NEW" if n % 5 else "PARTIALLY_FILLED"
            created = now - timedelta(seconds=rng.uniform(0, 86400))
        else:
            state = rng.choice(states)
            created = now - timedelta(seconds=rng.uniform(86400, year))
        price = Decimal(60000 + rng.randrange(0, 10000)) / 1 * Decimal("1.0")
        quantity = Decimal(rng.randrange(1, 50)) * instrument.step_size * 10
        filled = {
            "FILLED": quantity,
            "PARTIALLY_FILLED": quantity / 2,
        }.get(state, Decimal(0))
        yield {
            "account_id": account_id,
            "instrument_id": instrument.pk,
            "venue": instrument.venue,
            "venue_api": instrument.venue_api,
            "side": "buy" if n % 2 else "sell",
            "type": "limit",
            "time_in_force": "GTC",
            "quantity": quantity,
            "price": price,
            "filled_quantity": filled,
            "average_price": price if filled else None,
            "state": state,
            "client_order_id": "tp" + uuid.UUID(int=rng.getrandbits(128)).hex,
            "venue_order_id": None if state == "FAILED" else str(10_000_000 + n),
            "idempotency_key": None,
            "request_fingerprint": "",
            "failover_venues": [],
            "version": 1 if active else 3,
            "reject_reason": "Order would immediately match" if state == "REJECTED" else "",
            "cancel_requested_at": created + timedelta(seconds=5) if state == "CANCELED" else None,
            "cancel_confirmed_at": created + timedelta(seconds=6) if state == "CANCELED" else None,
            "cancel_confirm_source": "ack" if state == "CANCELED" else "",
            "amend_quantity": None,
            "amend_price": None,
            "submit_deadline": created + timedelta(seconds=120),
            "unknown_since": None,
            "created_at": created,
            "updated_at": created + timedelta(seconds=1),
        }


def load_orders(*, using: str, count: int, account_id: int, instruments: list, seed: int) -> float:
    """COPYs `count` orders into the database `using`; returns the seconds it took.

    A large load goes in the way bulk loads are done: the secondary indexes are dropped first and
    built again afterwards (the same definitions), and foreign keys are not checked row by row
    (every row references the instruments and account made for it).
    """
    from django.db import connections
    from django.utils import timezone

    columns = order_columns()
    started = time.perf_counter()
    rows = order_rows(
        count=count, account_id=account_id, instruments=instruments, seed=seed, now=timezone.now()
    )
    bulk = count >= 50_000
    with connections[using].cursor() as cursor:
        indexes = _drop_secondary_indexes(cursor) if bulk else []
        if bulk:
            cursor.execute("SET session_replication_role = replica")  # no per-row FK triggers
        sql = f"COPY orders_order ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        if bulk:
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET maintenance_work_mem = '256MB'")
        for definition in indexes:
            cursor.execute(definition)
    return time.perf_counter() - started


def _drop_secondary_indexes(cursor) -> list[str]:
    """Drops orders_order's indexes that back no constraint; returns their definitions."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders_order'"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint"
        " WHERE conrelid = 'orders_order'::regclass)"
    )
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in found]


def analyze(using: str) -> None:
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("ANALYZE orders_order")


# --- the queries -----------------------------------------------------------------------------
def query_set(using: str, account_id: int) -> dict[str, dict[str, Any]]:
    """Named order_list filters for one data set (each fills a page of 100 on both sizes)."""
    from django.db import connections

    from orders.selectors import encode_cursor

    with connections[using].cursor() as cur:
        cur.execute(
            "SELECT id FROM orders_order WHERE account_id = %s ORDER BY md5(id::text) LIMIT 100",
            [account_id],
        )
        ids = [r[0] for r in cur.fetchall()]
        cur.execute(
            "SELECT min(created_at), max(created_at), count(*) FROM orders_order"
            " WHERE account_id = %s AND state NOT IN ('NEW', 'PARTIALLY_FILLED')",
            [account_id],
        )
        first, last, count = cur.fetchone()
        cur.execute(
            "SELECT created_at, id FROM orders_order WHERE account_id = %s"
            " ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
            [account_id, count // 2],
        )
        mid_at, mid_id = cur.fetchone()
    middle = first + (last - first) / 2
    # a window that holds 2 pages on the small set (and 100 x that on the large one)
    window = (last - first) * min(1.0, 200 / max(count, 1))
    return {
        "newest page": {},
        "ids (100)": {"ids": ids},
        "state=FILLED": {"states": ["FILLED"]},
        "state=FILLED,CANCELED": {"states": ["FILLED", "CANCELED"]},
        "state=EXPIRED,REJECTED": {"states": ["EXPIRED", "REJECTED"]},
        "state=NEW,PARTIALLY_FILLED": {"states": ["NEW", "PARTIALLY_FILLED"]},
        "date range": {"created_after": middle, "created_before": middle + window},
        "keyset page (middle)": {"cursor": encode_cursor({"t": mid_at.isoformat(), "id": mid_id})},
        "exchange=bitmex": {"exchange": "bitmex"},
        "symbol=BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT"},
        "state=FILLED + date range": {
            "states": ["FILLED"],
            "created_after": middle,
            "created_before": middle + window * 2,
        },
    }


def api_params(filters: dict[str, Any]) -> dict[str, str]:
    params = {"limit": "100"}
    for key, value in filters.items():
        if key == "ids":
            params["ids"] = ",".join(map(str, value))
        elif key == "states":
            params["state"] = ",".join(value)
        elif hasattr(value, "isoformat"):
            params[key] = value.isoformat()
        else:
            params[key] = str(value)
    return params


def measure_selectors(
    datasets: dict[str, tuple[str, Any, dict]], iterations: int, warmup: int = 5
) -> dict[tuple[str, str], list[float]]:
    """{(query, size label): [seconds]}; datasets: label -> (alias, account, queries)."""
    from orders.selectors import order_list

    times: dict[tuple[str, str], list[float]] = {}
    names = list(next(iter(datasets.values()))[2])
    for i in range(warmup + iterations):
        for name in names:
            for label, (alias, account, queries) in datasets.items():
                token = _db.set(alias)
                try:
                    started = time.perf_counter()
                    page = order_list(account=account, limit=100, **queries[name])
                    elapsed = time.perf_counter() - started
                finally:
                    _db.reset(token)
                assert page.results is not None
                if i >= warmup:
                    times.setdefault((name, label), []).append(elapsed)
    return times


def measure_api(
    servers: dict[str, tuple[str, list[str], dict]], iterations: int, warmup: int = 5
) -> dict[tuple[str, str], list[float]]:
    """{(query, size label): [seconds]}; servers: label -> (base URL, API keys, queries)."""
    import httpx

    times: dict[tuple[str, str], list[float]] = {}
    names = list(next(iter(servers.values()))[2])
    clients = {size: httpx.Client(timeout=30) for size in servers}
    turn = 0
    try:
        for i in range(warmup + iterations):
            for name in names:
                for size, (base, keys, queries) in servers.items():
                    params = api_params(queries[name])
                    turn += 1
                    headers = {"Authorization": f"Bearer {keys[turn % len(keys)]}"}
                    started = time.perf_counter()
                    response = clients[size].get(
                        f"{base}/api/v1/orders", params=params, headers=headers
                    )
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
                    if i >= warmup:
                        times.setdefault((name, size), []).append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return times


def ratio_rows(times: dict[tuple[str, str], list[float]], small: str, large: str) -> list[dict]:
    rows = []
    for name in dict.fromkeys(q for q, _ in times):
        s, big = summary_ms(times[(name, small)]), summary_ms(times[(name, large)])
        rows.append(
            {
                "query": name,
                "small_p50_ms": s["p50"],
                "small_p99_ms": s["p99"],
                "large_p50_ms": big["p50"],
                "large_p99_ms": big["p99"],
                "ratio_p50": round(big["p50"] / s["p50"], 3) if s["p50"] else None,
                "ratio_p99": round(big["p99"] / s["p99"], 3) if s["p99"] else None,
                "n": s["n"],
            }
        )
    return rows


def ratio_columns(small: str, large: str) -> list[Column]:
    return [
        Column("query", "query"),
        Column("small_p50_ms", f"{small} p50 ms", ".2f"),
        Column("small_p99_ms", f"{small} p99 ms", ".2f"),
        Column("large_p50_ms", f"{large} p50 ms", ".2f"),
        Column("large_p99_ms", f"{large} p99 ms", ".2f"),
        Column("ratio_p50", "ratio p50", ".2f"),
        Column("ratio_p99", "ratio p99", ".2f"),
    ]


def label(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1000} k" if n >= 1000 else str(n)


def explain(using: str, account, queries: dict[str, dict]) -> dict[str, str]:
    """EXPLAIN ANALYZE of each query's SQL on one data set (kept in the JSON for diagnosis)."""
    from django.db import connections

    from orders.selectors import order_list

    plans = {}
    for name, filters in queries.items():
        captured: list[str] = []

        def capture(execute, sql, params, many, context, _captured=captured):
            _captured.append(connections[using].cursor().mogrify(sql, params))
            return execute(sql, params, many, context)

        token = _db.set(using)
        try:
            with connections[using].execute_wrapper(capture):
                order_list(account=account, limit=100, **filters)
            with connections[using].cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + captured[-1])
                plans[name] = "\n".join(r[0] for r in cur.fetchall())
        finally:
            _db.reset(token)
    return plans


def load_dataset(alias: str, count: int) -> tuple[Any, list[str], float]:
    """Instruments, the bench account's keys and `count` orders in one database."""
    from bench._harness import api_keys, instruments
    from orders.models import Account

    token = _db.set(alias)
    try:
        made = list(instruments().values())
        keys = api_keys()
        account = Account.objects.using(alias).get(name="bench")
        seconds = load_orders(
            using=alias, count=count, account_id=account.pk, instruments=made, seed=count
        )
        analyze(alias)
    finally:
        _db.reset(token)
    return account, keys, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=200, help="per query and size")
    parser.add_argument("--api-iterations", type=int, default=100)
    parser.add_argument("--active-rate", type=float, default=500)
    parser.add_argument("--active-seconds", type=float, default=20)
    parser.add_argument(
        "--active-only",
        action="store_true",
        help="only the active-orders part, on the --small set (no large load, no list queries)",
    )
    args = parser.parse_args(argv)
    if args.active_only:
        return main_active_only(args)
    small, large = label(args.small), label(args.large)
    report = Report("reads", settings=vars(args))
    with Environment("reads") as env:
        urls = {
            "default": os.environ["DATABASE_URL"],
            "large": env.create_database("bench_reads_large"),
        }
        add_database("large", urls["large"])
        datasets, keys, loads = {}, {}, []
        for alias, count, size in (("default", args.small, small), ("large", args.large, large)):
            account, keys[size], seconds = load_dataset(alias, count)
            loads.append({"data set": size, "orders": count, "copy_seconds": round(seconds, 1)})
            print(f"loaded {count} orders ({size}) in {seconds:.1f} s", flush=True)
            datasets[size] = (alias, account, query_set(alias, account.pk))
        report.table(
            "load",
            "reads: loading with COPY",
            [
                Column("data set", "data set"),
                Column("orders", "orders"),
                Column("copy_seconds", "s"),
            ],
            loads,
        )
        sel = measure_selectors(datasets, args.iterations)
        report.table(
            "selectors",
            f"reads: order_list through the selectors, {args.iterations} interleaved runs each",
            ratio_columns(small, large),
            ratio_rows(sel, small, large),
        )
        # one gunicorn per data set, side by side
        servers = {
            size: (
                env.gunicorn(f"web-{alias}", workers=2, DATABASE_URL=urls[alias]),
                keys[size],
                datasets[size][2],
            )
            for size, (alias, _account, _queries) in datasets.items()
        }
        api = measure_api(servers, args.api_iterations)
        report.table(
            "api",
            f"reads: GET /api/v1/orders under gunicorn, {args.api_iterations} interleaved runs each",
            ratio_columns(small, large),
            ratio_rows(api, small, large),
        )
        active = measure_active(
            servers[large][0], keys[large], args.active_rate, args.active_seconds
        )
        report.table(
            "active",
            f"reads: GET /api/v1/orders/active ({large} set, {ACTIVE} active orders), open loop",
            ACTIVE_COLUMNS,
            [active],
        )
        report.data["plans_large"] = explain("large", datasets[large][1], datasets[large][2])
    for kind in ("selectors", "api"):
        rows = report.data[kind]
        worst50 = max(rows, key=lambda r: r["ratio_p50"])
        worst99 = max(rows, key=lambda r: r["ratio_p99"])
        report.target(
            f"{kind}: worst {large}/{small} p50 ratio ({worst50['query']})",
            worst50["ratio_p50"],
            RATIO_TARGET,
            "x",
        )
        report.target(
            f"{kind}: worst {large}/{small} p99 ratio ({worst99['query']})",
            worst99["ratio_p99"],
            RATIO_TARGET,
            "x",
        )
    report.target(
        f"active orders p99 at {args.active_rate:.0f}/s",
        active["p99_ms"],
        ACTIVE_P99_TARGET_MS,
        "ms",
    )
    report.write()
    return 1 if report.failed else 0


def main_active_only(args) -> int:
    """The active-orders part alone: one data set of --small orders, one gunicorn, open loop."""
    report = Report("reads_active", settings=vars(args))
    size = label(args.small)
    with Environment("reads") as env:
        _account, keys, _seconds = load_dataset("default", args.small)
        base = env.gunicorn("web", workers=2)
        active = measure_active(base, keys, args.active_rate, args.active_seconds)
        report.table(
            "active",
            f"reads: GET /api/v1/orders/active ({size} set, {ACTIVE} active orders), open loop",
            ACTIVE_COLUMNS,
            [active],
        )
    report.target(
        f"active orders p99 at {args.active_rate:.0f}/s",
        active["p99_ms"],
        ACTIVE_P99_TARGET_MS,
        "ms",
    )
    report.write()
    return 1 if report.failed else 0


ACTIVE_COLUMNS = [
    Column("rate", "req/s", ".0f"),
    Column("sent", "sent"),
    Column("errors", "errors"),
    Column("source", "source"),
    Column("p50_ms", "p50 ms", ".2f"),
    Column("p90_ms", "p90 ms", ".2f"),
    Column("p99_ms", "p99 ms", ".2f"),
    Column("max_ms", "max ms", ".2f"),
    Column("generator_cpu_ms", "generator CPU ms/request", ".2f"),
]


def measure_active(base: str, keys: list[str], rate: float, seconds: float) -> dict:
    """GET /orders/active on a fixed schedule (open loop), keys taking turns; the cache is
    primed first."""
    import httpx

    from bench._load import Request, open_loop

    headers = [{"Authorization": f"Bearer {key}"} for key in keys]
    url = f"{base}/api/v1/orders/active"
    first = httpx.get(url, headers=headers[0], timeout=60).json()
    cpu = time.process_time()  # the generator shares the machine's cores with the server
    result = open_loop(
        lambda i: Request("GET", url, headers[i % len(headers)]), rate=rate, seconds=seconds
    )
    cpu = time.process_time() - cpu
    last = httpx.get(url, headers=headers[0], timeout=60).json()
    assert len(first["results"]) == ACTIVE, len(first["results"])
    generator_ms = 1000 * cpu / max(1, len(result.latencies) + 20)  # + the warm-up requests
    return result.row(source=last["source"], generator_cpu_ms=generator_ms)


if __name__ == "__main__":
    sys.exit(main())

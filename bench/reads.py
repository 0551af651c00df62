"""Reads at scale: list/filter queries on 10 thousand vs 1 million orders, and active orders
from the cache at a fixed rate.

Two databases are loaded with binary COPY (psycopg): one with --small orders, one with --large,
the same shape (one account, a year of history, 100 active orders, the rest terminal), each
alone in its table (checked: both are copies of a fresh, empty template). First each query's
plans run under EXPLAIN (ANALYZE, BUFFERS) on both: the rows a plan node touches must not grow
with the table (the noise-free check). Then every query runs against both data sets side by
side, in ABBA order (query A small then large, next round large then small), through the
selectors in this process (--iterations rounds) and through the API of two gunicorns, one per
database (--api-iterations rounds, after warm-up rounds on both). The target: each query's
large-set figure <= 1.2 x its small-set figure. Each p99 ratio comes with a 95 % bootstrap
interval (rounds resampled, both sizes of a round together) and an A/A control (the small set's
two halves against each other): an interval that reaches below 1.2, or a ratio inside its A/A
spread, is not a regression. Last, an open-loop generator asks GET /api/v1/orders/active at
--active-rate for --active-seconds (target: p99 <= 5 ms at 500 req/s).

    python -m bench.reads [--small 10000] [--large 1000000] [--iterations 1000]
                          [--api-iterations 1000]
    python -m bench.reads --active-only [--active-rate 500] [--active-seconds 20]
"""

from __future__ import annotations

import argparse
import contextvars
import itertools
import os
import random
import re
import sys
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench._harness import (
    Column,
    Environment,
    Report,
    interleaved,
    p99_ratio_ci,
    summary_ms,
)

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
# orders_order's columns in the order order_rows yields them (load_orders checks the model has
# exactly these: a new NOT NULL column must be given a value here).
COLUMNS = (
    *("account_id", "instrument_id", "venue", "venue_api", "side", "type", "time_in_force"),
    *("quantity", "price", "filled_quantity", "average_price", "state", "client_order_id"),
    *("venue_order_id", "idempotency_key", "request_fingerprint", "failover_venues", "version"),
    *("reject_reason", "cancel_requested_at", "cancel_confirmed_at", "cancel_confirm_source"),
    *("amend_quantity", "amend_price", "submit_deadline", "unknown_since"),
    *("created_at", "updated_at"),
)


def order_columns() -> list[str]:
    from orders.models import Order

    return [f.column for f in Order._meta.concrete_fields if not f.primary_key]


def order_rows(*, count: int, account_id: int, instruments: list, seed: int, now):
    """`count` orders over the year before `now`, as tuples in COLUMNS order: ACTIVE recent
    active ones, the rest terminal. Values come from small pools drawn once (a million rows
    are generated in seconds, not minutes)."""
    rng = random.Random(seed)
    states = [s for s, w in TERMINAL_MIX for _ in range(w)]
    year, day = 365 * 86400, 86400
    prices = [Decimal(60000 + rng.randrange(0, 10000)) for _ in range(4096)]
    steps = [(i.pk, i.venue, i.venue_api, i.step_size * 10) for i in instruments]
    quantities = {step: [Decimal(k) * step for k in range(1, 50)] for *_, step in steps}
    zero, half = Decimal(0), Decimal("0.5")
    after = {s: timedelta(seconds=s) for s in (1, 5, 6, 120)}
    reject = "Order would immediately match"
    for n in range(count):
        instrument_id, venue, venue_api, step = steps[n % len(steps)]
        if n < ACTIVE:
            state = "NEW" if n % 5 else "PARTIALLY_FILLED"
            created = now - timedelta(seconds=rng.uniform(0, day))
        else:
            state = states[rng.randrange(100)]
            created = now - timedelta(seconds=rng.uniform(day, year))
        price = prices[rng.getrandbits(12)]
        quantity = quantities[step][rng.randrange(49)]
        filled = {"FILLED": quantity, "PARTIALLY_FILLED": quantity * half}.get(state, zero)
        canceled = state == "CANCELED"
        yield (
            *(account_id, instrument_id, venue, venue_api, "buy" if n % 2 else "sell", "limit"),
            *("GTC", quantity, price, filled, price if filled else None, state),
            f"tp{rng.getrandbits(128):032x}",
            None if state == "FAILED" else str(10_000_000 + n),
            *(None, "", [], 1 if n < ACTIVE else 3, reject if state == "REJECTED" else ""),
            created + after[5] if canceled else None,
            created + after[6] if canceled else None,
            "ack" if canceled else "",
            *(None, None, created + after[120], None, created, created + after[1]),
        )


def load_orders(
    *,
    using: str,
    count: int,
    account_id: int,
    instruments: list,
    seed: int,
    bulk: bool | None = None,
) -> float:
    """COPYs `count` orders into the database `using` (binary, one stream); returns the seconds
    it took.

    A large load goes in the way bulk loads are done: the secondary indexes and unique
    constraints are dropped first and built again afterwards (the same definitions, sorted
    once instead of a million random inserts), and foreign keys are not checked row by row
    (every row references the instruments and account made for it). The table stays logged.
    """
    from django.db import connections
    from django.utils import timezone

    assert sorted(COLUMNS) == sorted(order_columns()), "bench COLUMNS differ from the model"
    started, cpu = time.perf_counter(), time.process_time()
    rows = order_rows(
        count=count, account_id=account_id, instruments=instruments, seed=seed, now=timezone.now()
    )
    bulk = count >= 50_000 if bulk is None else bulk
    with connections[using].cursor() as cursor:
        rebuild = _drop_secondary_indexes(cursor) if bulk else []
        if bulk:
            cursor.execute("SET session_replication_role = replica")  # no per-row FK triggers
        types = _column_types(cursor, COLUMNS)
        sql = f"COPY orders_order ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        copied, cpu = time.perf_counter(), time.process_time() - cpu
        if bulk:
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET maintenance_work_mem = '256MB'")
        for statement in rebuild:
            cursor.execute(statement)
    done = time.perf_counter()
    print(
        f"  {count} orders: COPY {copied - started:.1f} s (generating and sending them:"
        f" {cpu:.1f} s CPU here), indexes and constraints {done - copied:.1f} s",
        flush=True,
    )
    return done - started


def _column_types(cursor, columns) -> list[int]:
    """The type oid of each of orders_order's `columns` (binary COPY sends typed values)."""
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = 'orders_order'::regclass"
        " AND attnum > 0 AND NOT attisdropped"
    )
    oids = dict(cursor.fetchall())
    return [oids[column] for column in columns]


def _drop_secondary_indexes(cursor) -> list[str]:
    """Drops orders_order's unique constraints and the indexes that back no constraint;
    returns the statements that make them again."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'orders_order'::regclass AND contype = 'u'"
    )
    uniques = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders_order'"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint"
        " WHERE conrelid = 'orders_order'::regclass)"
    )
    indexes = cursor.fetchall()
    for name, _definition in uniques:
        cursor.execute(f'ALTER TABLE orders_order DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [
        *(f'ALTER TABLE orders_order ADD CONSTRAINT "{n}" {d}' for n, d in uniques),
        *(definition for _name, definition in indexes),
    ]


def analyze(using: str) -> None:
    """VACUUM (ANALYZE) after the load: statistics for the planner, and the visibility map set
    now, not by autovacuum's insert-triggered VACUUM of a million fresh rows in the middle of
    the measurements (it would slow whichever queries it overlaps)."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) orders_order")


def check_alone(using: str, count: int) -> None:
    """The data set is the table: no other orders share it (a database copied from a template
    that held a million other orders once made the "10 k" set a table of 1.01 M rows, and its
    plans differed)."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_order")
        (held,) = cursor.fetchone()
    if held != count:
        raise RuntimeError(f"{using}: orders_order holds {held} orders, not the {count} loaded")


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
    """{(query, size label): [seconds]}; datasets: label -> (alias, account, queries).

    Each query runs on both data sets back to back, in ABBA order (bench._harness.interleaved)."""
    from orders.selectors import order_list

    def run(name: str, label: str) -> float:
        alias, account, queries = datasets[label]
        token = _db.set(alias)
        try:
            started = time.perf_counter()
            page = order_list(account=account, limit=100, **queries[name])
            elapsed = time.perf_counter() - started
        finally:
            _db.reset(token)
        assert page.results is not None
        return elapsed

    names = list(next(iter(datasets.values()))[2])
    return interleaved(names, list(datasets), run, rounds=iterations, warmup=warmup)


def measure_api(
    servers: dict[str, tuple[str, list[str], dict]], iterations: int, warmup: int = 10
) -> dict[tuple[str, str], list[float]]:
    """{(query, size label): [seconds]}; servers: label -> (base URL, API keys, queries);
    sizes alternate ABBA as in measure_selectors. The warm-up rounds send every query to both
    servers (each worker's first requests import and compile; they are not measured)."""
    import httpx

    clients = {size: httpx.Client(timeout=30) for size in servers}
    turns = itertools.count()

    def run(name: str, size: str) -> float:
        base, keys, queries = servers[size]
        params = api_params(queries[name])
        headers = {"Authorization": f"Bearer {keys[next(turns) % len(keys)]}"}
        started = time.perf_counter()
        response = clients[size].get(f"{base}/api/v1/orders", params=params, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
        return elapsed

    names = list(next(iter(servers.values()))[2])
    try:
        return interleaved(names, list(servers), run, rounds=iterations, warmup=warmup)
    finally:
        for client in clients.values():
            client.close()


def ratio_rows(times: dict[tuple[str, str], list[float]], small: str, large: str) -> list[dict]:
    """One row per query, and one for every query's samples pooled. `ratio_p99_ci` is a 95 %
    bootstrap interval of the p99 ratio (rounds resampled, bench._harness.p99_ratio_ci); `aa_p99`
    is the control: the p99 ratio between the two halves (alternate rounds) of the small set's
    own samples, the spread a ratio shows when nothing differs. `first_200` is the same row from
    the first 200 rounds only (what the benchmark measured before: compare the intervals)."""
    names = list(dict.fromkeys(q for q, _ in times))
    pooled = {size: [t for name in names for t in times[(name, size)]] for size in (small, large)}
    series = [(name, times[(name, small)], times[(name, large)]) for name in names]
    series.append(("(all pooled)", pooled[small], pooled[large]))
    rows = []
    for name, a, b in series:
        row = _ratio_row(name, a, b)
        if name != "(all pooled)" and len(a) > 200:
            row["first_200"] = _ratio_row(name, a[:200], b[:200])
        rows.append(row)
    return rows


def _ratio_row(name: str, small: list[float], large: list[float]) -> dict:
    s, big = summary_ms(small), summary_ms(large)
    even, odd = summary_ms(small[0::2])["p99"], summary_ms(small[1::2])["p99"]
    low, high = p99_ratio_ci(small, large, resamples=400 if len(small) <= 2000 else 100)
    return {
        "query": name,
        "small_p50_ms": s["p50"],
        "small_p99_ms": s["p99"],
        "large_p50_ms": big["p50"],
        "large_p99_ms": big["p99"],
        "ratio_p50": round(big["p50"] / s["p50"], 3) if s["p50"] else None,
        "ratio_p99": round(big["p99"] / s["p99"], 3) if s["p99"] else None,
        "ratio_p99_ci": [round(low, 3), round(high, 3)],
        "ratio_p99_ci_text": f"{low:.2f}-{high:.2f}",
        "aa_p99": round(max(even, odd) / min(even, odd), 3) if min(even, odd) > 0 else None,
        "n": s["n"],
    }


def ratio_columns(small: str, large: str) -> list[Column]:
    return [
        Column("query", "query"),
        Column("small_p50_ms", f"{small} p50 ms", ".2f"),
        Column("small_p99_ms", f"{small} p99 ms", ".2f"),
        Column("large_p50_ms", f"{large} p50 ms", ".2f"),
        Column("large_p99_ms", f"{large} p99 ms", ".2f"),
        Column("ratio_p50", "ratio p50", ".2f"),
        Column("ratio_p99", "ratio p99", ".2f"),
        Column("ratio_p99_ci_text", "p99 ratio 95% CI"),
        Column("aa_p99", "A/A p99", ".2f"),
    ]


def label(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1000} k" if n >= 1000 else str(n)


def explain(using: str, account, queries: dict[str, dict]) -> dict[str, dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of every orders query each list filter runs, on one data set:
    {name: {"plan": text, "rows": the most rows any plan node produced or filtered out,
    "buffers": pages read (the roots' shared hit + read)}}. Rows and buffers are what a page
    costs PostgreSQL, free of the machine's noise: they must not grow with the table."""
    from django.db import connections

    from orders.selectors import order_list

    plans = {}
    for name, filters in queries.items():
        captured: list[str] = []

        def capture(execute, sql, params, many, context, _captured=captured):
            if "orders_order" in sql:
                _captured.append(connections[using].cursor().mogrify(sql, params))
            return execute(sql, params, many, context)

        token = _db.set(using)
        try:
            with connections[using].execute_wrapper(capture):
                order_list(account=account, limit=100, **filters)
            texts = []
            with connections[using].cursor() as cur:
                for sql in captured:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    texts.append("\n".join(r[0] for r in cur.fetchall()))
        finally:
            _db.reset(token)
        plans[name] = {"plan": "\n---\n".join(texts), **plan_cost(texts)}
    return plans


def plan_cost(plans: list[str]) -> dict[str, int]:
    rows, buffers = 0, 0
    for plan in plans:
        counts = re.findall(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)
        counts += re.findall(r"Rows Removed by Filter: (\d+)", plan)
        rows = max(rows, *map(int, counts))
        root = re.search(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?", plan)
        buffers += sum(int(n or 0) for n in root.groups()) if root else 0
    return {"rows": rows, "buffers": buffers}


def plan_rows(small: dict[str, dict], large: dict[str, dict]) -> list[dict]:
    return [
        {
            "query": name,
            "small_rows": small[name]["rows"],
            "large_rows": large[name]["rows"],
            "small_buffers": small[name]["buffers"],
            "large_buffers": large[name]["buffers"],
        }
        for name in small
    ]


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
        check_alone(alias, count)
    finally:
        _db.reset(token)
    return account, keys, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--iterations",
        type=int,
        default=1000,
        help="selector rounds (per query and size): a p99 of 1,000 rests on its 10 largest values",
    )
    parser.add_argument(
        "--api-iterations",
        type=int,
        default=1000,
        help="API rounds (per query and size): a p99 of 1,000 rests on its 10 largest values",
    )
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
        plans = {size: explain(*datasets[size]) for size in (small, large)}
        report.table(
            "plans",
            "reads: what a page costs PostgreSQL",
            PLAN_COLUMNS,
            plan_rows(plans[small], plans[large]),
        )
        for size, key in ((small, "plans_small"), (large, "plans_large")):
            report.data[key] = {name: p["plan"] for name, p in plans[size].items()}
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
    worst = max(report.data["plans"], key=lambda r: r["large_rows"] / max(r["small_rows"], 1))
    report.target(
        f"plans: worst {large}/{small} rows touched ({worst['query']})",
        round(worst["large_rows"] / max(worst["small_rows"], 1), 3),
        RATIO_TARGET,
        "x",
    )
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
        low, high = worst99["ratio_p99_ci"]
        report.target(
            f"{kind}: worst {large}/{small} p99 ratio ({worst99['query']}; 95 % CI"
            f" {low:.2f}-{high:.2f})",
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


PLAN_COLUMNS = [
    Column("query", "query"),
    Column("small_rows", "rows (small)"),
    Column("large_rows", "rows (large)"),
    Column("small_buffers", "buffers (small)"),
    Column("large_buffers", "buffers (large)"),
]


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

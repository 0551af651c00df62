"""API accept: POST /api/v1/orders -> 202 under gunicorn at fixed rates (open loop).

Starts one gunicorn (deploy/start-web) per worker count in --workers on a fresh database and
sends limit orders with an Idempotency-Key each, spread over 10 API keys of one account (each
under the per-key throttle), on a fixed arrival schedule, at every rate in --rates. Variants
take turns (--rounds rounds of --seconds per worker count and rate) so each one sees the same
machine load; latency is measured from each request's due time (no coordinated omission). No
Celery worker runs: the submits queue up in Redis. Afterwards every 202 must be an order in
PENDING_NEW. Target: p99 <= 10 ms at 200 orders/s (with the deployed WEB_CONCURRENCY).

    python -m bench.api_accept [--rates 50,200] [--seconds 10] [--rounds 3] [--workers 2,4]
                               [--compare NAME=VALUE ...]

--compare NAME=VALUE starts, for each worker count, a second gunicorn with that environment
variable set, which takes its turns with the first (e.g. --compare API_FAST_ACCEPT=false measures
the fast accept path side by side with the ordinary DRF view). The target is read from the
deployed configuration only.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid

from bench._harness import (
    Column,
    Environment,
    add_rates,
    api_keys,
    arguments,
    comma_list,
    instruments,
    parse_arguments,
    summary_ms,
)
from bench._load import LoadResult, Request, open_loop

TARGET_RATE, TARGET_P99_MS = 200.0, 10.0
WARMUP = 20  # unmeasured requests before each run (open_loop's default)

COLUMNS = [
    Column("workers", "gunicorn workers"),
    Column("variant", "variant"),
    Column("rate", "orders/s", ".0f"),
    Column("sent", "sent"),
    Column("errors", "errors"),
    Column("p50_ms", "p50 ms", ".2f"),
    Column("p90_ms", "p90 ms", ".2f"),
    Column("p99_ms", "p99 ms", ".2f"),
    Column("max_ms", "max ms", ".2f"),
    Column("round_p99_ms", "p99 per round (median)", ".2f"),
    Column("send_lag_p99_ms", "generator lag p99 ms", ".2f"),
    Column("server_cpu_ms", "gunicorn CPU ms/order", ".2f"),
    Column("generator_cpu_ms", "generator CPU ms/order", ".2f"),
]


def order_request(base: str, keys: list[str], i: int) -> Request:
    body = {
        "exchange": "binance",
        "symbol": "BTC/USDT:USDT",
        "side": "buy" if i % 2 else "sell",
        "type": "limit",
        "quantity": "0.010",
        "price": f"{60000 + (i % 1000)}.5",
        "time_in_force": "GTC",
    }
    headers = {
        "Authorization": f"Bearer {keys[i % len(keys)]}",  # each key under its throttle
        "Idempotency-Key": uuid.uuid4().hex,
    }
    return Request.json("POST", f"{base}/api/v1/orders", body, headers)


def merge(results: list[LoadResult]) -> LoadResult:
    merged = LoadResult(rate=results[0].rate, seconds=sum(r.seconds for r in results))
    for r in results:
        merged.latencies += r.latencies
        merged.send_lag += r.send_lag
        for code, n in r.statuses.items():
            merged.statuses[code] = merged.statuses.get(code, 0) + n
    return merged


def rows_for(
    by_variant: dict[tuple, list[LoadResult]],
    cpu: dict[tuple, list[tuple[float, float]]] | None = None,
) -> list[dict]:
    """One row per (workers, variant, rate); variant "" is the deployed configuration, else the
    NAME=VALUE compared. cpu: (gunicorn, generator) CPU seconds per round, when measured."""
    rows = []
    for (workers, variant, rate), rounds in by_variant.items():
        row = {"workers": workers, "variant": variant or "deployed", **merge(rounds).row()}
        if cpu is not None:
            sent = sum(len(r.latencies) + WARMUP for r in rounds)  # warm-up requests cost too
            server, generator = (sum(v[i] for v in cpu[(workers, variant, rate)]) for i in (0, 1))
            row["server_cpu_ms"] = 1000 * server / sent
            row["generator_cpu_ms"] = 1000 * generator / sent
        row["round_p99_ms"] = statistics.median(summary_ms(r.latencies)["p99"] for r in rounds)
        row["rounds"] = [r.row() for r in rounds]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    add_rates(parser, default="50,200")
    parser.add_argument("--seconds", type=float, default=10.0, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", type=comma_list(int), default="2,4", help="gunicorn worker counts to compare"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also run a gunicorn with this environment variable, side by side (repeatable)",
    )
    args, report = parse_arguments("api_accept", parser, argv)
    rates, counts = args.rates, args.workers
    variants = {"": {}}
    for item in args.compare:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--compare takes NAME=VALUE, got {item!r}")
        variants[item] = {name: value}
    with Environment("api_accept") as env:
        from django.conf import settings

        from orders.models import Order

        instruments()
        keys = api_keys()
        names = {
            (w, v): f"web-{w}" + (f"-{i}" if v else "")
            for w in counts
            for i, v in enumerate(variants)
        }
        bases = {(w, v): env.gunicorn(names[(w, v)], workers=w, **variants[v]) for w, v in names}
        for base in bases.values():  # each worker's first requests import the API: not measured
            open_loop(lambda i, base=base: order_request(base, keys, i), rate=50, seconds=1)
        by_variant: dict[tuple, list[LoadResult]] = {
            (w, v, r): [] for w in counts for v in variants for r in rates
        }
        # (gunicorn CPU s, generator CPU s) per round: what one order costs the 2 shared cores
        cpu: dict[tuple, list[tuple[float, float]]] = {v: [] for v in by_variant}
        for _round in range(args.rounds):
            for workers, variant, rate in by_variant:
                base, name = bases[(workers, variant)], names[(workers, variant)]
                server, generator = env.procs.cpu_seconds(name), time.process_time()
                by_variant[(workers, variant, rate)].append(
                    open_loop(
                        lambda i, base=base: order_request(base, keys, i),
                        rate=rate,
                        seconds=args.seconds,
                        warmup=WARMUP,
                    )
                )
                cpu[(workers, variant, rate)].append(
                    (
                        env.procs.cpu_seconds(name) - server,
                        time.process_time() - generator,
                    )
                )
                env.procs.check_alive()
        rows = rows_for(by_variant, cpu)
        stored = Order.objects.filter(state="PENDING_NEW").count()
        throttle = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"]
        report.data["orders_stored"] = stored
        report.table(
            "accept",
            f"api_accept: POST /api/v1/orders -> 202 under gunicorn (sync workers), open loop, "
            f"{args.rounds} rounds x {args.seconds:.0f} s per variant, interleaved; "
            f"{len(keys)} keys, throttle {throttle} each",
            COLUMNS,
            rows,
        )
        accepted = sum(row["ok"] for row in rows)
        print(f"{accepted} accepted (202), {stored} orders stored in PENDING_NEW (+ warm-up)")
    deployed = int(os.environ.get("WEB_CONCURRENCY", "2"))  # deploy/gunicorn.conf.py default
    for row in rows:
        if row["rate"] == TARGET_RATE and row["variant"] == "deployed":
            what = f"p99 at {TARGET_RATE:.0f} orders/s, {row['workers']} workers"
            if row["workers"] != deployed:
                what += " (not the deployed default)"
            report.target(what, row["p99_ms"], TARGET_P99_MS, "ms")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

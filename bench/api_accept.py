"""API accept: POST /api/v1/orders -> 202 under gunicorn at fixed rates (open loop).

Starts gunicorn (deploy/start-web, WEB_CONCURRENCY workers) on a fresh database and sends limit
orders with an Idempotency-Key each, on a fixed arrival schedule, at every rate in --rates. The
rates take turns (--rounds rounds of --seconds at each rate) so each one sees the same machine
load; latency is measured from each request's due time (no coordinated omission). No worker
runs: the submits queue up in Redis, as they would behind a busy worker. Afterwards every 202
must be an order in PENDING_NEW. Target: p99 <= 10 ms at 200 orders/s.

    python -m bench.api_accept [--rates 50,200] [--seconds 10] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid

from bench._harness import Column, Environment, Report, api_keys, instruments, summary_ms
from bench._load import LoadResult, Request, open_loop

TARGET_RATE, TARGET_P99_MS = 200.0, 10.0

COLUMNS = [
    Column("rate", "orders/s", ".0f"),
    Column("sent", "sent"),
    Column("errors", "errors"),
    Column("p50_ms", "p50 ms", ".2f"),
    Column("p90_ms", "p90 ms", ".2f"),
    Column("p99_ms", "p99 ms", ".2f"),
    Column("max_ms", "max ms", ".2f"),
    Column("round_p99_ms", "p99 per round (median)", ".2f"),
    Column("send_lag_p99_ms", "generator lag p99 ms", ".2f"),
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


def rows_for(by_rate: dict[float, list[LoadResult]]) -> list[dict]:
    rows = []
    for rounds in by_rate.values():
        row = merge(rounds).row()
        row["round_p99_ms"] = statistics.median(summary_ms(r.latencies)["p99"] for r in rounds)
        row["rounds"] = [r.row() for r in rounds]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,200", help="orders per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    report = Report("api_accept", settings=vars(args))
    with Environment("api_accept") as env:
        from orders.models import Order

        instruments()
        keys = api_keys()
        base = env.gunicorn("web", workers=args.workers)
        by_rate: dict[float, list[LoadResult]] = {rate: [] for rate in rates}
        for _round in range(args.rounds):
            for rate in rates:
                by_rate[rate].append(
                    open_loop(
                        lambda i: order_request(base, keys, i), rate=rate, seconds=args.seconds
                    )
                )
                env.procs.check_alive()
        rows = rows_for(by_rate)
        accepted = sum(row["ok"] for row in rows)
        stored = Order.objects.filter(state="PENDING_NEW").count()
        report.data["orders_stored"] = stored
        report.table(
            "accept",
            f"api_accept: POST /api/v1/orders -> 202, gunicorn {args.workers} sync workers, "
            f"open loop, {args.rounds} rounds x {args.seconds:.0f} s per rate (interleaved)",
            COLUMNS,
            rows,
        )
        print(f"{accepted} accepted (202), {stored} orders stored in PENDING_NEW (+ warm-up)")
    at_target = next((r for r in rows if r["rate"] == TARGET_RATE), None)
    if at_target is not None:
        report.target(
            f"p99 at {TARGET_RATE:.0f} orders/s", at_target["p99_ms"], TARGET_P99_MS, "ms"
        )
        report.target(f"errors at {TARGET_RATE:.0f} orders/s", at_target["errors"], 0, "")
    report.write()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

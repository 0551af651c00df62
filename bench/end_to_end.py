"""End to end: POST /api/v1/orders -> the order NEW in PostgreSQL, through gunicorn, Redis, a
real Celery worker and the exchange emulator, beside the raw venue round trip.

Processes: the emulator, gunicorn (deploy/start-web) and a Celery worker (deploy/start-worker),
all on a fresh database; instruments come from the emulator (manage.py sync_instruments).

- one at a time: --orders orders, each POSTed when the previous one is NEW, taking turns with a
  raw signed place (+ cancel) sent straight to the emulator (the venue round trip alone).
  The latency of an order is its NEW event's timestamp (written by the worker in the same
  transaction as the state) minus the moment the POST was sent; it is split into accept (the
  API's 202), dispatch (commit, broker, worker pickup: accept -> the attempt's write-ahead row),
  venue (the attempt's own duration) and record (venue answer -> NEW committed).
- at a fixed rate: --rate orders/s for --seconds, open loop; latency from each order's due time
  to its NEW event (queueing in the worker shows here).

    python -m bench.end_to_end [--orders 200] [--rate 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from bench._harness import Column, Environment, Report, summary_ms
from bench.adapter import RAISED_LIMITS, BareBinance

ORDER = {
    "exchange": "binance",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.010",
    "price": "50000.0",
    "time_in_force": "GTC",
}


def load_instruments(env: Environment) -> None:
    import subprocess

    from django.core.management import get_commands

    if "sync_instruments" in get_commands():
        subprocess.run(
            [sys.executable, "manage.py", "sync_instruments", "--wait", "60"],
            env=env.child_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:
        from bench._harness import instruments

        instruments()


def wait_new(order_ids: list[int], timeout: float) -> dict[int, float]:
    """order id -> the time (time.time()) its NEW event was written; polls PostgreSQL."""
    from orders.models import OrderEvent

    found: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(order_ids) and time.monotonic() < deadline:
        missing = [i for i in order_ids if i not in found]
        for order_id, at in OrderEvent.objects.filter(
            order_id__in=missing, to_state="NEW"
        ).values_list("order_id", "created_at"):
            found[order_id] = at.timestamp()
        if len(found) < len(order_ids):
            time.sleep(0.002)
    return found


def breakdown(order_id: int) -> dict[str, float]:
    """Where an order's time went, from its rows (seconds since the epoch)."""
    from orders.models import Order, OrderAttempt

    order = Order.objects.get(pk=order_id)
    attempt = (
        OrderAttempt.objects.filter(order_id=order_id, operation="submit")
        .order_by("started_at")
        .first()
    )
    if attempt is None:
        return {"accepted": order.created_at.timestamp()}
    started = attempt.started_at.timestamp()
    return {
        "accepted": order.created_at.timestamp(),
        "attempt_started": started,
        "attempt_finished": started + (attempt.duration_ms or 0) / 1000,
    }


def one_at_a_time(env: Environment, base: str, key: str, count: int, warmup: int) -> dict:
    import httpx

    raw = BareBinance(env.binance_url, "/fapi/v1", "BTCUSDT", "0.010", "50000.0")
    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    parts: dict[str, list[float]] = {
        k: [] for k in ("raw", "e2e", "accept", "dispatch", "venue", "record", "http_202")
    }
    for i in range(warmup + count):
        raw_id = f"rw{uuid.uuid4().hex[:30]}"
        started = time.perf_counter()
        raw.place(raw_id)
        raw_seconds = time.perf_counter() - started
        raw.cancel(raw_id)

        sent = time.time()
        response = client.post(f"{base}/api/v1/orders", json=ORDER)
        answered = time.time()
        if response.status_code != 202:
            raise RuntimeError(f"POST: {response.status_code} {response.text[:300]}")
        order_id = response.json()["id"]
        new_at = wait_new([order_id], 30).get(order_id)
        if new_at is None:
            raise RuntimeError(f"order {order_id} not NEW after 30 s")
        if i < warmup:
            continue
        b = breakdown(order_id)
        parts["raw"].append(raw_seconds)
        parts["e2e"].append(new_at - sent)
        parts["http_202"].append(answered - sent)
        parts["accept"].append(b["accepted"] - sent)
        if "attempt_started" in b:
            parts["dispatch"].append(b["attempt_started"] - b["accepted"])
            parts["venue"].append(b["attempt_finished"] - b["attempt_started"])
            parts["record"].append(new_at - b["attempt_finished"])
    client.close()
    return parts


def at_rate(base: str, key: str, rate: float, seconds: float) -> dict:
    from bench._load import Request, open_loop
    from orders.models import Order

    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {key}"}
    result = open_loop(
        lambda i: Request.json(
            "POST",
            f"{base}/api/v1/orders",
            ORDER,
            {**headers, "Idempotency-Key": f"{run}-{i}"},
        ),
        rate=rate,
        seconds=seconds,
    )
    due = {f"{run}-{i}": at for i, at, _lat, status in result.samples if status == "202"}
    ids = dict(
        Order.objects.filter(idempotency_key__in=list(due)).values_list("idempotency_key", "id")
    )
    new = wait_new(list(ids.values()), 60)
    latencies = [new[ids[k]] - at for k, at in due.items() if k in ids and ids[k] in new]
    return {
        "sent": len(result.samples),
        "accepted": len(due),
        "new": len(latencies),
        "accept": result.latencies,
        "e2e": latencies,
    }


COLUMNS = [
    Column("what", "measure"),
    Column("n", "n"),
    Column("p50", "p50 ms", ".2f"),
    Column("p90", "p90 ms", ".2f"),
    Column("p99", "p99 ms", ".2f"),
    Column("max", "max ms", ".2f"),
]

LABELS = {
    "raw": "raw venue round trip (signed place, emulator)",
    "e2e": "POST -> NEW persisted",
    "http_202": "  POST -> 202 received",
    "accept": "  POST sent -> order row (accept)",
    "dispatch": "  accept -> submit attempt written (commit, broker, worker)",
    "venue": "  submit attempt (venue call)",
    "record": "  venue answer -> NEW committed",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="one at a time")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="orders/s for the open loop")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    report = Report("end_to_end", settings=vars(args))
    with Environment("end_to_end", emulator=True, extra_env=RAISED_LIMITS) as env:
        from bench._harness import api_key

        load_instruments(env)
        key = api_key()
        base = env.gunicorn("web", workers=args.web_workers)
        env.worker("worker", concurrency=args.worker_concurrency)
        parts = one_at_a_time(env, base, key, args.orders, args.warmup)
        env.procs.check_alive()
        rated = at_rate(base, key, args.rate, args.seconds) if args.rate > 0 else None
        env.procs.check_alive()
    rows = [{"what": LABELS[k], **summary_ms(v)} for k, v in parts.items() if v]
    report.table(
        "one_at_a_time",
        f"end_to_end: one order at a time ({args.orders} orders, each beside a raw venue "
        f"round trip), gunicorn x{args.web_workers}, Celery x{args.worker_concurrency}",
        COLUMNS,
        rows,
    )
    e2e, raw = summary_ms(parts["e2e"]), summary_ms(parts["raw"])
    report.data["ratio_e2e_to_raw_p50"] = round(e2e["p50"] / raw["p50"], 2)
    if rated is not None:
        report.table(
            "at_rate",
            f"end_to_end: {args.rate:.0f} orders/s for {args.seconds:.0f} s, open loop "
            f"({rated['sent']} sent, {rated['accepted']} accepted, {rated['new']} NEW)",
            COLUMNS,
            [
                {"what": "due -> 202 received", **summary_ms(rated["accept"])},
                {"what": "due -> NEW persisted", **summary_ms(rated["e2e"])},
            ],
        )
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())

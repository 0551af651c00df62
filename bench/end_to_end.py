"""End to end: POST /api/v1/orders -> the order NEW in PostgreSQL, through gunicorn, Redis, a
real Celery worker and the exchange emulator, beside the raw venue round trip.

Processes: the emulator, gunicorn (deploy/start-web) and a Celery worker (deploy/start-worker),
all on a fresh database; instruments come from the emulator (manage.py sync_instruments).

- one at a time: --orders orders, each POSTed when the previous one is NEW, taking turns with a
  raw signed place (+ cancel) sent straight to the emulator (the venue round trip alone).
  An order's latency runs from the moment its POST was sent to the commit of the transaction
  that made it NEW (PostgreSQL's commit timestamp of the NEW event, track_commit_timestamp;
  the poll that finds it adds nothing). It is split at stamps the platform records anyway:
  the accept's commit (the first event's commit timestamp), the worker's own INFO log lines
  (task received by the main process; task started in a pool child = "succeeded in" minus its
  runtime; venue request sent and answered = the venue_call line and its duration), and the
  NEW commit.
- at a fixed rate: --rate orders/s for --seconds, open loop; latency from each order's due time
  to its NEW commit (queueing in the worker shows here).

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


def wait_new(order_ids: list[int], timeout: float, poll: float = 0.002) -> dict[int, float]:
    """order id -> when its NEW was committed (time.time()); polls PostgreSQL every `poll` s.

    The time is PostgreSQL's commit timestamp of the NEW event's transaction when the server
    tracks them (track_commit_timestamp, on in scripts/services.sh), so the poll interval adds
    nothing to the measurement; otherwise the event's own timestamp (stamped before the
    transaction commits, so slightly early)."""
    from django.db.models.expressions import RawSQL

    from orders.models import OrderEvent

    stamp = _commit_stamp_sql()
    found: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(order_ids) and time.monotonic() < deadline:
        missing = [i for i in order_ids if i not in found]
        rows = OrderEvent.objects.filter(order_id__in=missing, to_state="NEW").annotate(
            committed=RawSQL(stamp, ())
        )
        for order_id, at in rows.values_list("order_id", "committed"):
            found[order_id] = at.timestamp()
        if len(found) < len(order_ids):
            time.sleep(poll)
    return found


def _commit_stamp_sql() -> str:
    return "pg_xact_commit_timestamp(xmin)" if commits_tracked() else "created_at"


def commits_tracked() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('track_commit_timestamp')")
        return cursor.fetchone()[0] == "on"


def accept_committed(order_id: int) -> float:
    """When the accept's transaction (the order and its PENDING_NEW event) committed."""
    from django.db.models.expressions import RawSQL

    from orders.models import OrderEvent

    row = OrderEvent.objects.filter(order_id=order_id, sequence=1).annotate(
        committed=RawSQL(_commit_stamp_sql(), ())
    )
    return row.values_list("committed", flat=True)[0].timestamp()


# --- the worker's own log lines: when it received, started and sent each order's task -------
def _ts(line: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()


def worker_stamps(log_path) -> dict[str, dict[str, float]]:
    """client order id or order id -> its submit task's stamps, from the worker's JSON log:
    `received` (the main process read it from Redis: Celery's "Task ... received" line),
    `started` (a pool child began running it: the "succeeded in" line minus its runtime) and
    `sent` / `answered` (the venue request left / its answer arrived: the venue_call line,
    written at the answer, minus its duration)."""
    import json
    import re

    by_order: dict[str, dict[str, float]] = {}
    task_order: dict[str, str] = {}
    args = re.compile(r"^\[(\d+)\]$")
    with open(log_path, errors="replace") as log:
        lines = log.read().splitlines()
    for raw in lines:
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        event, data = str(line.get("event", "")), line.get("data") or {}
        if data.get("name") == "orders.tasks.submit_order" and event.endswith("] received"):
            match = args.match(str(data.get("args", "")))
            if match:
                task_order[data["id"]] = match.group(1)
                by_order.setdefault(match.group(1), {}).setdefault("received", _ts(line))
        elif event.startswith("Task orders.tasks.submit_order[") and "runtime" in data:
            order = task_order.get(data.get("id", ""))
            if order is not None:
                by_order.setdefault(order, {})["started"] = _ts(line) - float(data["runtime"])
        elif event == "venue_call" and line.get("operation") == "submit":
            stamps = by_order.setdefault(str(line.get("client_order_id")), {})
            answered = _ts(line)
            stamps.setdefault("sent", answered - float(line.get("duration_ms") or 0) / 1000)
            stamps.setdefault("answered", answered)
    return by_order


STAGES = (
    ("accept", "  POST sent -> accept committed (order + first event)"),
    ("pickup", "  accept committed -> worker main process has the task (publish, Redis, BRPOP)"),
    ("handoff", "  -> a pool child starts the task (prefork hand-off)"),
    ("presend", "  -> venue request sent (DB connection, lock, load, breaker+budget, write-ahead)"),
    ("venue", "  venue HTTP exchange"),
    ("record", "  answer -> NEW committed (attempt, transition, event, commit)"),
)


def stages(sent: float, order_id: int, client_order_id: str, log: dict, new: float) -> dict:
    """The order's time split at each stamp (seconds); missing stamps leave stages out."""
    task = {**log.get(str(order_id), {}), **log.get(client_order_id, {})}
    points = [("accept", accept_committed(order_id))]
    points += [(k, task.get(v)) for k, v in
               (("pickup", "received"), ("handoff", "started"), ("presend", "sent"),
                ("venue", "answered"))]  # fmt: skip
    points.append(("record", new))
    out, last = {}, sent
    for name, at in points:
        if at is None:
            return out
        out[name], last = at - last, at
    return out


def _diagnosis(env: Environment, body: dict) -> str:
    """The order's state and events, and the worker's last log lines (a run that stalls)."""
    from orders.models import Order

    order = Order.objects.get(pk=body["id"])
    events = list(order.events.order_by("sequence").values_list("to_state", "reason"))
    log = (env.tmp / "worker.log").read_text(errors="replace").splitlines()[-40:]
    return f"state {order.state}, events {events}\nworker log:\n" + "\n".join(log)


def one_at_a_time(env: Environment, base: str, key: str, count: int, warmup: int) -> dict:
    import httpx

    raw = BareBinance(env.binance_url, "/fapi/v1", "BTCUSDT", "0.010", "50000.0")
    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    parts: dict[str, list[float]] = {k: [] for k in ("raw", "e2e", *dict(STAGES), "http_202")}
    orders = []
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
        body = response.json()
        new_at = wait_new([body["id"]], 30).get(body["id"])
        if new_at is None:
            raise RuntimeError(f"order {body['id']} not NEW after 30 s: {_diagnosis(env, body)}")
        if i < warmup:
            continue
        parts["raw"].append(raw_seconds)
        parts["e2e"].append(new_at - sent)
        parts["http_202"].append(answered - sent)
        orders.append((sent, body["id"], body["client_order_id"], new_at))
    client.close()
    log = worker_stamps(env.tmp / "worker.log")
    for sent, order_id, client_order_id, new_at in orders:
        for name, seconds in stages(sent, order_id, client_order_id, log, new_at).items():
            parts[name].append(seconds)
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
    "e2e": "POST -> NEW committed",
    **dict(STAGES),
    "http_202": "POST -> 202 received",
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
        commits = commits_tracked()
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
    report.data["commit_timestamps"] = commits
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
                {"what": "due -> NEW committed", **summary_ms(rated["e2e"])},
            ],
        )
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())

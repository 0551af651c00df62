"""Chaos run: N orders through the REST API while the venue misbehaves and the platform's own
processes die, then reconciliation, then every order compared with the venue's ground truth.

Processes: the emulator, gunicorn, two Celery workers and beat, on a fresh database. While the
orders go in (open loop, --rate orders/s, spread over Binance spot / USDⓈ-M / COIN-M and BitMEX;
resting LIMITs that stay NEW, marketable LIMITs and MARKETs that fill, IOCs that expire):

- fault rules on every venue's order placement (seeded): 20 % 5xx (half of them after the order
  was placed), 10 % timeout after accept (the order is placed, the answer held back longer than
  the platform's read timeout), 5 % 429 with Retry-After;
- a 10-second outage of the Binance port (connection refused) at 25 % of the load;
- one Celery worker SIGKILLed (its whole process group) at 50 %, a replacement started;
- Redis shut down (nothing persisted: the broker's queues are lost) and restarted on the same
  port at 75 %;
- a reader thread doing GET /orders/{id} and GET /orders throughout.

Then the faults are lifted, reconciliation runs (beat, and a pass per venue API queued every
few seconds) until every order is settled or --settle-seconds pass, and each accepted order is
compared with `GET /_emulator/orders` on both ports.

    python -m bench.chaos [--orders 1000] [--rate 6] [--seed 7] [--logs DIR] [--results DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path

from bench._harness import RESULTS, ROOT, Column, Environment, Report, percentile, wait_for
from bench.adapter import RAISED_LIMITS

# What the run changes from the deployed defaults, and why.
CHAOS_ENV = {
    **RAISED_LIMITS,  # the platform's budgets must not be what limits a 1,000-order run
    # a held-back answer costs a worker slot for the read timeout: 2 s keeps the run short
    "VENUE_HTTP_READ_TIMEOUT": "2",
    "RECONCILE_INTERVAL_SECONDS": "5",
    "WORKER_METRICS_PORT": "0",  # two workers on one machine
    "LOG_LEVEL": "INFO",
}
TIMEOUT_DELAY = 3.0  # seconds the emulator holds a "timeout" answer (> the read timeout)
OUTAGE_SECONDS = 10.0
REDIS_DOWN_SECONDS = 2.0
ORDER_PATHS = "/*/v[13]/order"  # /api/v3, /fapi/v1, /dapi/v1 (Binance), /api/v1 (BitMEX)
SETTLED = {"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REJECTED", "FAILED"}
NOT_PLACED = {"FAILED", "REJECTED"}  # the platform says the venue never took it
# (exchange, unified symbol, venue API, venue symbol)
MARKETS = [
    ("binance", "BTC/USDT", "binance.spot", "BTCUSDT"),
    ("binance", "BTC/USDT:USDT", "binance.usdm", "BTCUSDT"),
    ("binance", "BTC/USD:BTC", "binance.coinm", "BTCUSD_PERP"),
    ("bitmex", "BTC/USDT:USDT", "bitmex", "XBTUSDT"),
]
KINDS = [("resting", 45), ("marketable", 35), ("market", 10), ("ioc_away", 10)]


# --- faults ----------------------------------------------------------------------------------
def fault_rules(seed: int) -> list[dict]:
    """Rules are tried in order and the first that fires applies, so each probability is
    conditional on the earlier rules not firing: overall 10 % + 10 % 5xx, 10 % timeout, 5 % 429."""
    wanted = [
        ({"effect": "error", "status": 500, "accept": True}, 0.10),
        ({"effect": "error", "status": 502}, 0.10),
        ({"effect": "timeout", "delay": TIMEOUT_DELAY}, 0.10),
        ({"effect": "rate_limit", "retry_after": 1}, 0.05),
    ]
    rules, left = [], 1.0
    for i, (rule, share) in enumerate(wanted):
        rules.append(
            {**rule, "method": "POST", "path": ORDER_PATHS, "probability": round(share / left, 6),
             "seed": seed * 100 + i}
        )  # fmt: skip
        left -= share
    return rules


def set_faults(env: Environment, seed: int) -> None:
    for offset, venue in enumerate(("binance", "bitmex")):
        env.emulator_control(
            venue, "POST", "faults", json={"rules": fault_rules(seed + offset * 17)}
        )


def clear_faults(env: Environment) -> dict[str, list]:
    fired = {}
    for venue in ("binance", "bitmex"):
        rules = env.emulator_control(venue, "GET", "faults")["rules"]
        fired[venue] = [
            {"effect": r["effect"], "status": r["status"], "accept": r["accept"],
             "fired": r["fired"]}
            for r in rules
        ]  # fmt: skip
        env.emulator_control(venue, "DELETE", "faults")
    return fired


# --- the orders ------------------------------------------------------------------------------
def _round(value: Decimal, step: Decimal, rounding) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


def order_plan(env: Environment, count: int, seed: int) -> list[dict]:
    """`count` order bodies, reproducible from the seed, sized from the instruments."""
    from orders.models import Instrument

    rng = random.Random(seed)
    markets = []
    for exchange, symbol, venue_api, venue_symbol in MARKETS:
        inst = Instrument.objects.get(venue_api=venue_api, venue_symbol=venue_symbol)
        venue = "bitmex" if venue_api == "bitmex" else "binance"
        book = env.emulator_control(
            venue, "GET", "price", params={"symbol": venue_symbol, "venue_api": venue_api}
        )
        markets.append(
            (exchange, symbol, venue_api, inst, Decimal(book["bid"]), Decimal(book["ask"]))
        )
    kinds, weights = zip(*KINDS, strict=True)
    plan = []
    for _ in range(count):
        exchange, symbol, venue_api, inst, bid, ask = rng.choice(markets)
        kind = rng.choices(kinds, weights)[0]
        side = rng.choice(["buy", "sell"])
        away = bid * Decimal("0.9") if side == "buy" else ask * Decimal("1.1")
        through = ask * Decimal("1.01") if side == "buy" else bid * Decimal("0.99")
        body = {"exchange": exchange, "symbol": symbol, "side": side}
        body["quantity"] = str(_quantity(inst, away) * rng.randint(1, 3))
        if kind == "market":
            body["type"] = "market"
        else:
            price = away if kind in ("resting", "ioc_away") else through
            body.update(
                type="limit",
                price=str(_round(price, inst.tick_size, ROUND_DOWN)),
                time_in_force="IOC" if kind == "ioc_away" else "GTC",
            )
        if venue_api == "binance.usdm":
            body["failover"] = ["bitmex"]  # refused before sending -> BitMEX XBTUSDT
        plan.append({"kind": kind, "venue_api": venue_api, "body": body})
    return plan


def _quantity(inst, price: Decimal) -> Decimal:
    """The smallest valid quantity whose notional clears the minimum twice over."""
    step = inst.step_size
    qty = max(inst.min_qty, step)
    if inst.market_type != "inverse" and inst.min_notional > 0:
        need = 2 * inst.min_notional / (price * inst.contract_size)
        qty = max(qty, _round(need, step, ROUND_UP))
    return qty.normalize()


# --- the clients -----------------------------------------------------------------------------
@dataclass
class Sent:
    index: int
    kind: str
    venue_api: str
    key: str  # Idempotency-Key
    sent_at: float = 0.0  # first POST
    accepted_at: float = 0.0  # the 202
    status: str = ""  # final HTTP status of the POST ("202", "503", "ConnectError" ...)
    tries: int = 0
    order_id: int | None = None


@dataclass
class Reads:
    samples: list[tuple[float, str, str, float]] = field(
        default_factory=list
    )  # at, what, status, s

    def availability(self, start: float, end: float) -> tuple[int, int]:
        window = [status == "200" for at, _what, status, _s in self.samples if start <= at <= end]
        return sum(window), len(window)

    def failures(self, since: float) -> list[dict]:
        return [
            {"at_s": round(at - since, 2), "what": what, "status": status, "seconds": round(s, 2)}
            for at, what, status, s in self.samples
            if status != "200"
        ]


RETRYABLE_POST = {"500", "502", "503", "504"}  # and transport errors: same Idempotency-Key


def post_order(client, base: str, entry: Sent, body: dict, give_up: float) -> None:
    """POSTs until 202 (retrying 5xx and transport errors with the same Idempotency-Key, as a
    careful client does) or until `give_up` seconds have passed; 4xx is final."""
    import httpx

    entry.sent_at = time.time()
    delay = 0.2
    while True:
        entry.tries += 1
        try:
            response = client.post(
                f"{base}/api/v1/orders", json=body, headers={"Idempotency-Key": entry.key}
            )
            entry.status = str(response.status_code)
            if response.status_code == 202:
                entry.accepted_at = time.time()
                entry.order_id = response.json()["id"]
                return
        except httpx.HTTPError as exc:
            entry.status = type(exc).__name__
        else:
            if entry.status not in RETRYABLE_POST and entry.status != "429":
                return
        if time.time() - entry.sent_at + delay > give_up:
            return
        time.sleep(delay)
        delay = min(delay * 2, 3.0)


def plan_sent(plan: list[dict], run: str) -> list[Sent]:
    return [Sent(i, p["kind"], p["venue_api"], f"{run}-{i}") for i, p in enumerate(plan)]


def submit_all(base: str, keys: list[str], plan: list[dict], sent: list[Sent], rate: float,
               progress) -> None:  # fmt: skip
    import httpx

    clients = [httpx.Client(headers={"Authorization": f"Bearer {k}"}, timeout=15) for k in keys]
    t0 = time.time()

    def one(i: int) -> None:
        due = t0 + i / rate
        time.sleep(max(0.0, due - time.time()))
        post_order(clients[i % len(clients)], base, sent[i], plan[i]["body"], give_up=60)
        progress(i)

    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(one, range(len(plan))))
    finally:
        for client in clients:
            client.close()


READERS = 3  # threads reading at once


def read_loop(base: str, key: str, sent: list[Sent], reads: Reads, stop: threading.Event, n: int):
    """GET one order and the newest page, over and over, timing each answer (5 s timeout)."""
    import httpx

    rng = random.Random(n)
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=5) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            ids = [s.order_id for s in sent if s.order_id]
            if i % 2 and ids:
                what, url = "detail", f"{base}/api/v1/orders/{rng.choice(ids)}"
            else:
                what, url = "list", f"{base}/api/v1/orders?limit=50"
            started = time.time()
            try:
                status = str(client.get(url).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            reads.samples.append((started, what, status, time.time() - started))
            time.sleep(0.02)


# --- the chaos -------------------------------------------------------------------------------
class Redis:
    """Shut down and start again on the same port, with the same files (scripts/services.sh)."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.config = {
            k: self.client.config_get(k)[k] for k in ("port", "dir", "pidfile", "logfile")
        }

    def restart(self, down_seconds: float) -> None:
        import redis

        with contextlib.suppress(redis.ConnectionError):
            self.client.shutdown(nosave=True)
        wait_for(lambda: not self._ping(), 10, "redis to stop")
        time.sleep(down_seconds)
        c = self.config
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", c["port"], "--save", "",
             "--appendonly", "no", "--dir", c["dir"], "--pidfile", c["pidfile"],
             "--logfile", c["logfile"], "--daemonize", "yes"],
            check=True,
        )  # fmt: skip
        wait_for(self._ping, 10, "redis to start")

    def _ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False


QUEUES = ["default", "binance.spot", "binance.usdm", "binance.coinm", "bitmex"]


def start_worker(env: Environment, name: str):
    env.worker(name, concurrency=2, CELERY_HOSTNAME=f"{name}@%h")
    return next(p for n, p in env.procs._children if n == name)


class Supervisor:
    """What ECS does for the worker service: a worker that exits is replaced by a fresh one.
    (A worker the run kills on purpose is replaced by the chaos itself.)"""

    def __init__(self, env: Environment, timeline: Timeline):
        self.env, self.timeline = env, timeline
        self.workers: dict[str, object] = {}
        self.lock = threading.Lock()
        self.restarts = 0

    def start(self, name: str):
        proc = start_worker(self.env, name)
        with self.lock:
            self.workers[name] = proc
        return proc

    def kill(self, name: str) -> None:
        with self.lock:
            proc = self.workers.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        self.env.procs.forget(proc)

    def watch(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            with self.lock:
                exited = [(n, p) for n, p in self.workers.items() if p.poll() is not None]
                for name, _proc in exited:
                    del self.workers[name]
            for name, proc in exited:
                self.env.procs.forget(proc)
                self.restarts += 1
                replacement = f"{name}-r{self.restarts}"
                self.timeline.mark(f"{name} exited by itself ({proc.returncode}): {replacement}")
                with contextlib.suppress(Exception):
                    self.start(replacement)


@dataclass
class Timeline:
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> float:
        now = time.time()
        self.events.append((now, what))
        print(f"  chaos: {what}", flush=True)
        return now

    def at(self, what: str) -> float | None:
        return next((t for t, w in self.events if w == what), None)


def chaos(env: Environment, load_seconds: float, t0: float, timeline: Timeline,
          redis_: Redis, workers: Supervisor, stop: threading.Event) -> None:  # fmt: skip
    def until(fraction: float) -> bool:
        while time.time() < t0 + fraction * load_seconds:
            if stop.wait(0.2):
                return False
        return True

    if not until(0.25):
        return
    # sent to the other port: the Binance port closes at once, answer or not
    env.emulator_control(
        "bitmex", "POST", "outage", json={"seconds": OUTAGE_SECONDS, "venue": "binance"}
    )
    timeline.mark("venue outage start")
    threading.Timer(OUTAGE_SECONDS, timeline.mark, args=["venue outage end"]).start()
    if not until(0.5):
        return
    workers.kill("worker-a")
    timeline.mark("worker-a SIGKILLed")
    workers.start("worker-a2")
    timeline.mark("worker-a2 ready")
    if not until(0.75):
        return
    timeline.mark("redis down")
    redis_.restart(REDIS_DOWN_SECONDS)
    timeline.mark("redis back")


# --- settling and ground truth ---------------------------------------------------------------
def settle(env: Environment, ids: list[int], seconds: float) -> dict[str, int]:
    """Reconciliation until every order is settled or `seconds` pass; the last state counts."""
    from orders.models import Order
    from orders.tasks import reconcile_all

    deadline = time.monotonic() + seconds
    next_pass = next_print = 0.0
    while True:
        states = Counter(Order.objects.filter(pk__in=ids).values_list("state", flat=True))
        pending = sum(n for s, n in states.items() if s not in SETTLED)
        done = pending == 0 or time.monotonic() >= deadline
        if done or time.monotonic() >= next_print:
            print(f"  settling: {dict(sorted(states.items()))}", flush=True)
            next_print = time.monotonic() + 10
        if done:
            return dict(states)
        if time.monotonic() >= next_pass:
            with contextlib.suppress(Exception):
                reconcile_all.apply_async(queue="default")
            next_pass = time.monotonic() + 5
        time.sleep(2)


def venue_orders(env: Environment) -> dict[str, list[dict]]:
    """Ground truth: client order id -> every order any venue API holds with it."""
    by_client: dict[str, list[dict]] = {}
    for venue in ("binance", "bitmex"):
        for order in env.emulator_control(venue, "GET", "orders")["orders"]:
            by_client.setdefault(order["client_order_id"], []).append(order)
    return by_client


def _state(status: str) -> str:
    """Venue status as the platform names it: BitMEX PartiallyFilled -> PARTIALLY_FILLED."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", status).upper()


def _filled_share(venue: dict) -> Decimal:
    """The venue's filled share of the order (its units may differ: BitMEX XBTUSDT contracts)."""
    return Decimal(venue["filled_quantity"]) / Decimal(venue["quantity"])


def compare(sent: list[Sent], truth: dict[str, list[dict]]) -> dict:
    from orders.models import Order

    accepted = [s for s in sent if s.order_id]
    orders = {o.pk: o for o in Order.objects.filter(pk__in=[s.order_id for s in accepted])}
    ours = {o.client_order_id for o in orders.values()}
    found = {"duplicates": [], "lost": [], "mismatches": [], "unsettled": []}
    for cid, held in truth.items():
        if len(held) > 1 and cid in ours:
            found["duplicates"].append({"client_order_id": cid, "venue_orders": len(held)})
    for s in accepted:
        order = orders.get(s.order_id)
        if order is None:
            found["lost"].append({"order_id": s.order_id, "why": "no row"})
            continue
        held = truth.get(order.client_order_id, [])
        venue = held[-1] if held else None
        row = {"order_id": order.pk, "venue_api": order.venue_api, "state": order.state,
               "venue": venue and venue["status"]}  # fmt: skip
        if order.state not in SETTLED:  # still in flight, or flagged unknown: no claim yet
            found["unsettled"].append(row)
        elif venue is None:
            if order.state not in NOT_PLACED:
                found["lost"].append({**row, "why": "the platform says placed, the venue has none"})
        elif order.state in NOT_PLACED:
            found["lost"].append({**row, "why": "at the venue, the platform says never placed"})
        elif (
            _state(venue["status"]) != order.state
            or _filled_share(venue) != order.filled_quantity / order.quantity
            or venue["venue_api"] != order.venue_api
        ):
            found["mismatches"].append(
                {
                    **row,
                    "filled": str(order.filled_quantity),
                    "venue_filled": venue["filled_quantity"],
                }
            )
    return found


def settle_times(sent: list[Sent]) -> list[float]:
    """Seconds from the first POST to the order's first settled state (its event's time)."""
    from django.db.models import Min

    from orders.models import OrderEvent

    first = dict(
        OrderEvent.objects.filter(
            order_id__in=[s.order_id for s in sent if s.order_id], to_state__in=SETTLED
        )
        .values("order_id")
        .annotate(at=Min("created_at"))
        .values_list("order_id", "at")
    )
    return [first[s.order_id].timestamp() - s.sent_at for s in sent if s.order_id in first]


def keep_logs(env: Environment, to: str) -> None:
    import shutil

    os.makedirs(to, exist_ok=True)
    for log in env.tmp.glob("*.log"):
        shutil.copy(log, to)


# --- the run ---------------------------------------------------------------------------------
def progress_printer(total: int):
    done = Counter()
    lock = threading.Lock()
    started = time.time()

    def tick(_i: int) -> None:
        with lock:
            done["n"] += 1
            if done["n"] % max(1, total // 10) == 0 or done["n"] == total:
                print(f"  posted {done['n']}/{total} ({time.time() - started:.0f} s)", flush=True)

    return tick


def run(args) -> tuple[dict, Report]:
    report = Report("chaos", settings={**vars(args), "env": CHAOS_ENV,
                                       "faults": fault_rules(args.seed)})  # fmt: skip
    started = time.monotonic()
    with Environment("chaos", emulator=True, extra_env=CHAOS_ENV) as env:
        from bench._harness import api_keys
        from bench.end_to_end import load_instruments

        load_instruments(env)
        post_keys, read_keys = api_keys(4), api_keys(READERS)
        base = env.gunicorn("web", workers=2)
        timeline = Timeline()
        workers = Supervisor(env, timeline)
        workers.start("worker-a")
        workers.start("worker-b")
        env.procs.start("beat", [str(ROOT / "deploy" / "start-beat")], env.child_env())
        plan = order_plan(env, args.orders, args.seed)
        redis_ = Redis(os.environ["REDIS_URL"])
        set_faults(env, args.seed)
        print(f"chaos: {args.orders} orders at {args.rate}/s, seed {args.seed}", flush=True)

        reads, stop = Reads(), threading.Event()
        threading.Thread(target=workers.watch, args=(stop,), daemon=True).start()
        sent = plan_sent(plan, uuid.uuid4().hex[:8])
        readers = [
            threading.Thread(
                target=read_loop, args=(base, read_keys[n], sent, reads, stop, n), daemon=True
            )
            for n in range(READERS)
        ]
        load_seconds = args.orders / args.rate
        t0 = timeline.mark("load start")
        chaos_thread = threading.Thread(
            target=chaos, args=(env, load_seconds, t0, timeline, redis_, workers, stop), daemon=True
        )
        for reader in readers:
            reader.start()
        chaos_thread.start()
        submit_all(base, post_keys, plan, sent, args.rate, progress_printer(args.orders))
        chaos_thread.join()
        timeline.mark("load end")
        fired = clear_faults(env)
        ids = [s.order_id for s in sent if s.order_id]
        states = settle(env, ids, args.settle_seconds)
        timeline.mark("settled")
        stop.set()
        for reader in readers:
            reader.join(10)
        found = compare(sent, venue_orders(env))
        times = settle_times(sent)
        if args.logs:
            keep_logs(env, args.logs)
    result = {
        "sent": sent, "states": states, "found": found, "times": times, "reads": reads,
        "timeline": timeline, "fired": fired, "restarts": workers.restarts, "seconds": time.monotonic() - started,
    }  # fmt: skip
    return result, report


def write_report(args, result: dict, report: Report) -> Report:
    sent, found, reads, timeline = (
        result["sent"],
        result["found"],
        result["reads"],
        result["timeline"],
    )
    statuses = Counter(s.status for s in sent)
    accepted = sum(1 for s in sent if s.order_id)
    outage = (timeline.at("venue outage start"), timeline.at("venue outage end"))
    redis_window = (timeline.at("redis down"), timeline.at("redis back"))
    windows = {
        "whole run": (timeline.at("load start"), timeline.at("settled")),
        "venue outage (10 s)": outage,
        "Redis restart": (redis_window[0], (redis_window[1] or 0) + 1),
    }
    read_rows = []
    for name, (start, end) in windows.items():
        if start is None or end is None:
            continue
        ok, n = reads.availability(start, end)
        failed = Counter(
            st for at, _w, st, _s in reads.samples if start <= at <= end and st != "200"
        )
        read_rows.append({"window": name, "reads": n, "ok": ok,
                          "failed": ", ".join(f"{k} {v}" for k, v in failed.most_common()),
                          "availability": 100.0 * ok / n if n else float("nan")})  # fmt: skip
    times = result["times"]
    accept = [s.accepted_at - s.sent_at for s in sent if s.order_id]
    rows = [
        {"what": "orders sent", "value": len(sent)},
        {"what": "accepted (202)", "value": accepted},
        {"what": "POST final statuses", "value": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))},
        {"what": "final states", "value": ", ".join(f"{k} {v}" for k, v in sorted(result["states"].items()))},
        {"what": "duplicates at the venue", "value": len(found["duplicates"])},
        {"what": "lost", "value": len(found["lost"])},
        {"what": "state mismatches", "value": len(found["mismatches"])},
        {"what": "unsettled at the end", "value": len(found["unsettled"])},
        {"what": "first POST -> 202 p50 / p99 (s, client retries included)",
         "value": f"{percentile(accept, 50):.2f} / {percentile(accept, 99):.2f}"},
        {"what": "POST -> settled p50 (s)", "value": f"{percentile(times, 50):.2f}"},
        {"what": "POST -> settled p99 (s)", "value": f"{percentile(times, 99):.2f}"},
        {"what": "faults fired (binance / bitmex)",
         "value": " / ".join(str(sum(r["fired"] for r in result["fired"][v])) for v in ("binance", "bitmex"))},
        {"what": "workers that exited by themselves (replaced)", "value": result["restarts"]},
        {"what": "run time (s)", "value": f"{result['seconds']:.0f}"},
    ]  # fmt: skip
    report.table("summary", f"chaos: {len(sent)} orders at {args.rate}/s, seed {args.seed}",
                 [Column("what", "measure"), Column("value", "value")], rows)  # fmt: skip
    report.table(
        "reads",
        "chaos: read availability (GET /orders/{id} and GET /orders, 5 s timeout)",
        [Column("window", "window"), Column("reads", "reads"), Column("ok", "ok"),
         Column("availability", "available %", ".2f"), Column("failed", "failed")],
        read_rows,
    )  # fmt: skip
    report.data["timeline"] = [{"at": round(t, 3), "what": w} for t, w in timeline.events]
    report.data["faults_fired"] = result["fired"]
    report.data["failed_reads"] = reads.failures(timeline.at("load start") or 0)[:100]
    report.data["settle_seconds"] = {"p50": percentile(times, 50), "p99": percentile(times, 99)}
    report.data["problems"] = {k: v[:50] for k, v in found.items()}
    report.target("duplicates at the venue", len(found["duplicates"]), 0)
    report.target("lost orders", len(found["lost"]), 0)
    report.target("state mismatches", len(found["mismatches"]), 0)
    report.target("unsettled orders", len(found["unsettled"]), 0)
    outage_row = next((r for r in read_rows if r["window"].startswith("venue outage")), None)
    if outage_row and outage_row["reads"]:
        report.target(
            "reads unavailable during the outage", 100 - outage_row["availability"], 0.1, "%"
        )
    report.target("run time", result["seconds"], 600, "s")
    report.write(Path(args.results) if args.results else RESULTS)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=6.0, help="orders/s (open loop)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--settle-seconds", type=float, default=180.0)
    parser.add_argument("--logs", help="copy the processes' logs to this directory")
    parser.add_argument("--results", help="write chaos.json here (default bench/results)")
    args = parser.parse_args(argv)
    result, report = run(args)
    report = write_report(args, result, report)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Detection: from the start of a venue outage to the circuit breaker opening, and the time the
breaker alert takes to fire.

The emulator runs as its own process. Order flow goes to binance.usdm through the adapter (the
path a worker takes: guarded_call with the breaker, rate budget and retry policy as configured)
from --threads threads at a fixed aggregate rate. Each trial starts an outage
(POST /_emulator/outage, sent through the other port), then reads the breaker until it is open;
the detection time is the breaker's own `opened_at` minus the moment the outage began. Then the
outage ends, an operator reset closes the breaker and the next trial starts. Every rate in
--rates and every mode in --modes ("refuse": connection refused; "503": the venue answers 503)
is tried --trials times, the variants taking turns. Target: <= 2 s. The first failing order
confirms the outage with pings (reliability/detection.py, DETECTION_*): set DETECTION_PROBES=0
in the environment to measure the breaker's thresholds alone.

The alert's time to fire is computed from the rule (monitoring/prometheus/rules/alerts.yml:
VenueBreakerOpen, its `for:`, none by default) and the scrape and evaluation intervals of
prometheus.yml: the gauge changes at t, the next scrape sees it within one scrape interval, the
next evaluation after that within one evaluation interval starts the `for:` clock (or fires at
once without one), and the alert fires `for:` later.

    python -m bench.detection [--rates 1,5,20] [--modes refuse,503] [--trials 5]
"""

from __future__ import annotations

import re
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from bench._harness import (
    ROOT,
    Column,
    Environment,
    add_rates,
    arguments,
    comma_list,
    parse_arguments,
)
from bench._venue import limit_order, place

TARGET_SECONDS = 2.0
VENUE_API, SYMBOL = "binance.usdm", "BTCUSDT"
RAISED_LIMITS = {  # the traffic itself must never wait for budget (emulator limits x1000)
    "RATE_BINANCE_USDM_WEIGHT_PER_MINUTE": "2400000",
    "RATE_BINANCE_USDM_ORDERS_PER_10S": "300000",
    "RATE_BINANCE_USDM_ORDERS_PER_MINUTE": "1200000",
}


class Traffic:
    """Orders placed through the adapter at `rate` per second from `threads` threads."""

    def __init__(self, rate: float, threads: int):
        self.rate, self.threads = rate, threads
        self.stop = threading.Event()
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _run(self, index: int) -> None:
        from exchanges.registry import adapter_for

        adapter = adapter_for(VENUE_API)
        period = self.threads / self.rate
        due = time.monotonic() + index * period / self.threads
        while not self.stop.is_set():
            delay = due - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            due = max(due + period, time.monotonic())  # missed slots are skipped, not bunched
            request = limit_order(
                SYMBOL, f"dt{uuid.uuid4().hex[:30]}", quantity="0.010", price="50000.0"
            )
            outcome = place(adapter, request)
            with self._lock:
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def __enter__(self) -> Traffic:
        self._workers = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout=60)


def trial(env: Environment, rate: float, mode: str, threads: int, timeout: float) -> dict:
    from reliability.breaker import breaker_for

    breaker = breaker_for(VENUE_API)
    with Traffic(rate, threads) as traffic:
        time.sleep(max(1.0, 3 / rate))  # steady flow before the outage
        assert breaker.snapshot()["state"] == "closed"
        began = time.time()
        env.emulator_control(
            "bitmex", "POST", "outage", json={"venue": "binance", "seconds": 600, "mode": mode}
        )
        snap = breaker.snapshot()
        deadline = time.monotonic() + timeout
        while snap["state"] != "open" and time.monotonic() < deadline:
            time.sleep(0.01)
            snap = breaker.snapshot()
        seen = time.time()
    env.emulator_control("bitmex", "DELETE", "outage", params={"venue": "binance"})
    opened = snap["state"] == "open"
    result = {
        "rate": rate,
        "mode": mode,
        "opened": opened,
        "detection_s": round(snap["opened_at"] - began, 3) if opened else None,
        "seen_s": round(seen - began, 3),
        "trigger": snap["last_trigger"],
        "outcomes": traffic.outcomes,
    }
    _recover(env, breaker)
    return result


def _recover(env: Environment, breaker) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the port is open again
        try:
            httpx.get(f"{env.binance_url}/fapi/v1/ping", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    breaker.reset(by="bench", reason="detection benchmark: next trial")


# --- the alert ---------------------------------------------------------------------------------
def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", str(text)):
        total += float(number) * units[unit]
    return total


def alert_timing(prom_dir: Path = ROOT / "monitoring" / "prometheus") -> dict | None:
    """Best / worst / mean seconds from the breaker opening to VenueBreakerOpen firing."""
    import yaml

    config_path, rules_path = prom_dir / "prometheus.yml", prom_dir / "rules" / "alerts.yml"
    if not config_path.exists() or not rules_path.exists():
        return None
    config = yaml.safe_load(config_path.read_text())
    rules = yaml.safe_load(rules_path.read_text())
    rule = next(
        (
            r
            for group in rules.get("groups", [])
            for r in group.get("rules", [])
            if r.get("alert") == "VenueBreakerOpen"
        ),
        None,
    )
    if rule is None:
        return None
    scrape = _seconds(config.get("global", {}).get("scrape_interval", "1m"))
    evaluation = _seconds(config.get("global", {}).get("evaluation_interval", "1m"))
    hold = _seconds(rule.get("for", "0s"))
    return {
        "alert": "VenueBreakerOpen",
        "expr": rule["expr"],
        "for_s": hold,
        "scrape_interval_s": scrape,
        "evaluation_interval_s": evaluation,
        "best_s": hold,
        "mean_s": hold + scrape / 2 + evaluation / 2,
        "worst_s": hold + scrape + evaluation,
    }


COLUMNS = [
    Column("mode", "outage"),
    Column("rate", "orders/s", ".0f"),
    Column("trials", "trials"),
    Column("opened", "opened"),
    Column("median_s", "median s", ".3f"),
    Column("max_s", "max s", ".3f"),
    Column("trigger", "trigger"),
]


def summarize(trials: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for t in trials:
        groups.setdefault((t["mode"], t["rate"]), []).append(t)
    rows = []
    for (mode, rate), items in groups.items():
        times = [t["detection_s"] for t in items if t["opened"]]
        rows.append(
            {
                "mode": mode,
                "rate": rate,
                "trials": len(items),
                "opened": sum(t["opened"] for t in items),
                "median_s": statistics.median(times) if times else None,
                "max_s": max(times) if times else None,
                "trigger": ",".join(sorted({t["trigger"] for t in items if t["trigger"]})),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    add_rates(parser, default="1,5,20")
    parser.add_argument("--modes", type=comma_list(), default="refuse,503")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="like a worker's concurrency")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per trial")
    args, report = parse_arguments("detection", parser, argv)
    rates, modes = args.rates, args.modes
    trials: list[dict] = []
    with Environment("detection", emulator=True, extra_env=RAISED_LIMITS) as env:
        from django.conf import settings

        report.settings["breaker"] = vars(settings.RELIABILITY_BREAKERS[VENUE_API]).copy()
        report.settings["detection"] = vars(settings.RELIABILITY_DETECTION).copy()
        report.settings["retry"] = {
            "attempts": settings.RELIABILITY_RETRY.attempts,
            "base_seconds": settings.RELIABILITY_RETRY.base_seconds,
        }
        for _ in range(args.trials):
            for mode in modes:
                for rate in rates:
                    trials.append(trial(env, rate, mode, args.threads, args.timeout))
                    print(trials[-1], flush=True)
                    env.procs.check_alive()
    report.data["trials"] = trials
    rows = summarize(trials)
    report.table(
        "breaker",
        f"detection: outage start -> breaker open ({VENUE_API}, adapter traffic from "
        f"{args.threads} threads, {args.trials} trials per variant, interleaved)",
        COLUMNS,
        rows,
    )
    alert = alert_timing()
    if alert is not None:
        report.table(
            "alert",
            "detection: breaker open -> VenueBreakerOpen firing (computed from the rule and "
            "the Prometheus intervals)",
            [
                Column("alert", "alert"),
                Column("for_s", "for s", ".0f"),
                Column("scrape_interval_s", "scrape s", ".0f"),
                Column("evaluation_interval_s", "eval s", ".0f"),
                Column("best_s", "best s", ".0f"),
                Column("mean_s", "mean s", ".1f"),
                Column("worst_s", "worst s", ".0f"),
            ],
            [alert],
        )
    else:
        print("detection: no Prometheus rules on this branch; alert time not computed")
    for row in rows:
        worst = row["max_s"] if row["opened"] == row["trials"] else float("inf")
        report.target(f"{row['mode']} at {row['rate']:.0f}/s: worst detection", worst, 2.0, "s")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

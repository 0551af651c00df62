"""What every benchmark shares: services, a fresh database, child processes, statistics, the
table and the JSON result.

A benchmark runs as `python -m bench.<name>` (scripts/bench.sh). With DATABASE_URL and REDIS_URL
set (bench.sh starts throwaway PostgreSQL + Redis on free ports) it uses them; without them it
starts its own through scripts/services.sh. Each run gets its own database, created from a
migrated template and dropped at the end, and flushes Redis first. Child processes (gunicorn,
Celery, the emulator) run in their own process groups and are stopped on exit, Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import math
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV_BIN = Path(sys.executable).parent

# Venue credentials the benchmarks give the emulator and the platform (loopback only).
VENUE_KEY, VENUE_SECRET = "bench-key", "bench-secret"


# --- arguments -----------------------------------------------------------------------------
def comma_list(kind: Callable[[str], Any] = str) -> Callable[[str], list]:
    """An argparse type: "1,5,20" -> [kind("1"), kind("5"), kind("20")] (string defaults too)."""

    def parse(text: str) -> list:
        return [kind(part) for part in text.split(",") if part.strip()]

    return parse


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's argument parser, described by the first line of its module docstring."""
    return argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])


def add_rates(parser: argparse.ArgumentParser, *, default: str) -> None:
    """--rates: the arrival rates to try, orders per second ("50,200")."""
    parser.add_argument(
        "--rates",
        type=comma_list(float),
        default=default,
        help="orders per second, comma-separated",
    )


def parse_arguments(
    name: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, Report]:
    """The parsed arguments, and the run's Report with them as its settings."""
    args = parser.parse_args(argv)
    return args, Report(name, settings=vars(args))


# --- statistics ----------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """n, p50, p90, p99, max and mean of latencies given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0, "p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p90": round(percentile(ms, 90), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3),
        "mean": round(sum(ms) / len(ms), 3),
    }


def p99_ratio_ci(
    small: Sequence[float],
    large: Sequence[float],
    *,
    q: float = 99,
    resamples: int = 500,
    level: float = 95,
    seed: int = 0,
) -> tuple[float, float]:
    """A bootstrap confidence interval of percentile(large, q) / percentile(small, q).

    small[i] and large[i] are measured side by side (round i of an interleaved run), so rounds
    are resampled, both samples of a round together: a noisy moment of the machine stays on both
    sides, as it was measured. Returns the (100 - level) / 2 and (100 + level) / 2 percentiles
    of the resampled ratios."""
    n = min(len(small), len(large))
    if n == 0:
        return math.nan, math.nan
    rng = random.Random(seed)
    # nearest rank q of n values is the k-th largest; only the top k of a resample matter
    k = n - max(1, math.ceil(q / 100 * n)) + 1
    ratios = []
    for _ in range(resamples):
        rounds = rng.choices(range(n), k=n)
        top_small = heapq.nlargest(k, [small[i] for i in rounds])[-1]
        top_large = heapq.nlargest(k, [large[i] for i in rounds])[-1]
        ratios.append(top_large / top_small if top_small else math.nan)
    tail = (100 - level) / 2
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


def abba(items: Sequence[Any], round_: int) -> list[Any]:
    """items in order on even rounds, reversed on odd ones: each runs as often first as last."""
    return list(items)[::-1] if round_ % 2 else list(items)


def interleaved(
    names: Sequence[str],
    variants: Sequence[str],
    run: Callable[[str, str], float],
    *,
    rounds: int,
    warmup: int,
) -> dict[tuple[str, str], list[float]]:
    """{(name, variant): [run(name, variant) per round]}, the warm-up rounds left out.

    Every round runs each name on every variant back to back, the variants in ABBA order, so the
    machine's noise and any first-of-a-pair effect fall on every variant alike; sample i of each
    variant comes from the same round (what p99_ratio_ci pairs)."""
    times: dict[tuple[str, str], list[float]] = {(n, v): [] for n in names for v in variants}
    for i in range(warmup + rounds):
        for name in names:
            for variant in abba(variants, i):
                elapsed = run(name, variant)
                if i >= warmup:
                    times[(name, variant)].append(elapsed)
    return times


# --- the machine and its load ---------------------------------------------------------------
def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def machine() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- output --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: str = ""  # format spec, e.g. ".2f"; "" prints the value as it is


def format_table(title: str, columns: Sequence[Column], rows: Iterable[dict]) -> str:
    def cell(row: dict, col: Column) -> str:
        value = row.get(col.key, "")
        if value is None or value == "":
            return "-"
        if col.fmt and isinstance(value, int | float) and not isinstance(value, bool):
            return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:{col.fmt}}"
        return str(value)

    rows = list(rows)
    cells = [[cell(row, col) for col in columns] for row in rows]
    widths = [
        max([len(col.header), *(len(line[i]) for line in cells)]) for i, col in enumerate(columns)
    ]
    lines = [title, ""]
    lines.append(
        "| " + " | ".join(c.header.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    )
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in cells:
        first, *rest = line
        lines.append(
            "| "
            + " | ".join(
                [
                    first.ljust(widths[0]),
                    *(v.rjust(w) for v, w in zip(rest, widths[1:], strict=True)),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "FAIL"


@dataclass
class Report:
    """One benchmark's result: tables for people, JSON for machines (bench/results/NAME.json)."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    load_before: dict[str, float] = field(default_factory=load)
    tables: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def table(self, key: str, title: str, columns: Sequence[Column], rows: list[dict]) -> str:
        text = format_table(title, columns, rows)
        self.tables.append(text)
        self.data[key] = rows
        print("\n" + text, flush=True)
        return text

    def target(self, what: str, value: float, limit: float, unit: str = "") -> dict:
        row = {
            "target": what,
            "measured": round(value, 3),
            "limit": limit,
            "unit": unit,
            "verdict": verdict(value, limit),
        }
        self.targets.append(row)
        return row

    def write(self, out_dir: Path = RESULTS) -> Path:
        if self.targets:
            self.table(
                "targets",
                f"{self.name}: targets",
                [
                    Column("target", "target"),
                    Column("measured", "measured", ".3g"),
                    Column("limit", "limit"),
                    Column("unit", "unit"),
                    Column("verdict", "verdict"),
                ],
                self.targets,
            )
        load_after = load()
        header = (
            f"machine: {machine()['nproc']} CPUs ({cpu_model()}), Python "
            f"{platform.python_version()}; load average before {self.load_before['1m']}, "
            f"after {load_after['1m']} (1 min)"
        )
        print(header, flush=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{self.name}.json"
        payload = {
            "bench": self.name,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            "machine": machine(),
            "load_before": self.load_before,
            "load_after": load_after,
            "settings": self.settings,
            "results": self.data,
            "targets": self.targets,
            "tables": self.tables,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        tmp.replace(path)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path

    def finish(self, out_dir: Path = RESULTS) -> int:
        """Writes the result; returns the exit status (1 when a target was missed)."""
        self.write(out_dir)
        return 1 if self.failed else 0

    @property
    def failed(self) -> bool:
        return any(t["verdict"] != "PASS" for t in self.targets)


# --- processes and ports -------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class Processes:
    """Child processes in their own process groups, stopped in reverse order on close()."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self._children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            list(argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self._children.append((name, proc))
        return proc

    def cpu_seconds(self, name: str) -> float:
        """CPU time (user + system) used so far by the live processes of child `name`'s process
        group (gunicorn's master and workers, say); Linux /proc only, 0.0 elsewhere."""
        group = next(proc.pid for child, proc in self._children if child == name)
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            if int(fields[2]) == group:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def check_alive(self) -> None:
        for name, proc in self._children:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def forget(self, proc: subprocess.Popen) -> None:
        """A child the benchmark killed on purpose: no longer watched or stopped."""
        self._children = [(n, p) for n, p in self._children if p is not proc]

    def stop(self, proc: subprocess.Popen, timeout: float = 20) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # whatever the group left behind (gunicorn/celery children)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        while self._children:
            _name, proc = self._children.pop()
            self.stop(proc)


# --- services, database, Redis ---------------------------------------------------------------
def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def logs_to(stream) -> None:
    """This process's log lines (its stdout and stderr handlers) go to `stream` instead."""
    import logging

    from monitoring.logging import output_handlers

    for handler in output_handlers():
        if isinstance(handler, logging.StreamHandler) and handler.stream in (
            sys.stderr,
            sys.stdout,
        ):
            handler.setStream(stream)


class Environment:
    """Services + a fresh database + Django, for one benchmark run; use as a context manager."""

    def __init__(
        self, name: str, *, emulator: bool = False, extra_env: dict[str, str] | None = None
    ):
        self.name = name
        self.with_emulator = emulator
        self.binance_url = self.bitmex_url = ""
        self.stack = contextlib.ExitStack()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}."))
        self.procs = Processes(self.tmp)
        self.extra_env = extra_env or {}
        self.databases: list[str] = []

    # environment for this process and its children
    def child_env(self, **overrides: str) -> dict[str, str]:
        env = {**os.environ, **overrides}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(ROOT)
        return env

    def __enter__(self) -> Environment:
        signal.signal(signal.SIGTERM, _raise_exit)
        self.stack.callback(self._remove_tmp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading.settings")
        os.environ.setdefault("TRADING_STAGE", "test")
        os.environ.setdefault("LOG_LEVEL", "INFO")  # what production logs costs, too
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(self.tmp / "prom")
        (self.tmp / "prom").mkdir()
        os.environ.update(self.extra_env)
        if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
            self._start_services()
        self._migrate_template(os.environ["DATABASE_URL"])
        os.environ["DATABASE_URL"] = self.create_database(f"bench_{self.name}")
        self._flush_redis()
        self.stack.callback(self.procs.close)
        if self.with_emulator:
            self._start_emulator()
        import django

        django.setup()
        self._logs_to_file()
        return self

    def _logs_to_file(self) -> None:
        """This process's log lines go to a file (they are measured, not shown)."""
        from monitoring.logging import flush

        stream = open(self.tmp / "bench.log", "a")  # noqa: SIM115 - lives as long as the run
        self.stack.callback(stream.close)
        self.stack.callback(flush)  # runs before the close: queued lines reach the file
        logs_to(stream)

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        self.procs.close()
        for db in self.databases:
            with contextlib.suppress(Exception):
                self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.stack.close()

    def _remove_tmp(self) -> None:
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)

    def _start_services(self) -> None:
        pg, rd = free_port(), free_port()
        services = self.tmp / "services"
        services.mkdir()
        script = str(ROOT / "scripts" / "services.sh")
        subprocess.run([script, "start", str(services), str(pg), str(rd)], check=True)
        self.stack.callback(subprocess.run, [script, "stop", str(services)], check=False)
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(pg), "-U", "app", "trading"], check=True
        )
        os.environ["DATABASE_URL"] = f"postgres://app@127.0.0.1:{pg}/trading"
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{rd}/0"

    def _migrate_template(self, url: str) -> None:
        """A fresh, empty, migrated template for this run's databases, on DATABASE_URL's server.

        Not DATABASE_URL's database itself: whatever another benchmark left there would be copied
        into every database made from it (bench/console.py seeds a million orders into it, and
        the reads benchmark's "10 k" set once held them as well)."""
        self.template_url = _with_path(url, f"/bench_template_{self.name}")
        template = urlsplit(self.template_url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{template}"')
        self.databases.append(template)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.child_env(DATABASE_URL=self.template_url),
            check=True,
        )

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(_with_path(self.template_url, "/postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        """A copy of the migrated template, dropped when the run ends; returns its URL."""
        template = urlsplit(self.template_url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.databases.append(name)
        return _with_path(self.template_url, f"/{name}")

    def _flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushall()

    # platform processes
    def gunicorn(self, name: str = "web", *, workers: int = 2, **env: str) -> str:
        """Starts deploy/start-web on a free port; returns its base URL once it answers."""
        port = free_port()
        child = self.child_env(
            PORT=str(port), BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=str(workers), **env
        )
        child["PROMETHEUS_MULTIPROC_DIR"] = str(self.tmp / "prom" / name)
        self.procs.start(name, [str(ROOT / "deploy" / "start-web")], child)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _http_ok(f"{base}/health/live"), 60, f"gunicorn {name}")
        return base

    def _start_emulator(self) -> None:
        """manage.py exchange_emulator on free ports (prices stand still, venue limits x1000);
        the platform's settings (this process and its children) point at it."""
        ports = {"binance": free_port(), "bitmex": free_port()}
        argv = [sys.executable, "manage.py", "exchange_emulator"]
        argv += ["--binance-port", str(ports["binance"]), "--bitmex-port", str(ports["bitmex"])]
        for venue in ports:
            argv += [f"--{venue}-key", VENUE_KEY, f"--{venue}-secret", VENUE_SECRET]
        argv += ["--walk-seconds", "0", "--rate-limit-scale", "1000"]
        self.procs.start("emulator", argv, self.child_env())
        for port in ports.values():
            wait_for(lambda p=port: port_open(p), 60, "the exchange emulator")
        self.binance_url = f"http://127.0.0.1:{ports['binance']}"
        self.bitmex_url = f"http://127.0.0.1:{ports['bitmex']}"
        for api in ("SPOT", "USDM", "COINM"):
            os.environ[f"BINANCE_{api}_BASE_URL"] = self.binance_url
        os.environ["BITMEX_BASE_URL"] = self.bitmex_url
        for venue in ("BINANCE", "BITMEX"):
            os.environ[f"{venue}_API_KEY"], os.environ[f"{venue}_API_SECRET"] = (
                VENUE_KEY,
                VENUE_SECRET,
            )

    def emulator_control(self, venue: str, method: str, path: str, **kwargs):
        """A call to the emulator's control API (/_emulator/...) on a venue's port."""
        import httpx

        base = self.bitmex_url if venue == "bitmex" else self.binance_url
        response = httpx.request(method, f"{base}/_emulator/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def worker(self, name: str = "worker", *, concurrency: int = 2, **env: str) -> None:
        child = self.child_env(CELERY_CONCURRENCY=str(concurrency), **env)
        child["PROMETHEUS_MULTIPROC_DIR"] = str(self.tmp / "prom" / name)
        self.procs.start(name, [str(ROOT / "deploy" / "start-worker")], child)
        log = self.tmp / f"{name}.log"
        wait_for(lambda: b"ready." in log.read_bytes(), 60, f"celery {name}")


def _http_ok(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=2).status_code == 200


def _raise_exit(signum, _frame) -> None:
    raise SystemExit(128 + signum)


# --- data the benchmarks need ----------------------------------------------------------------
def instruments() -> dict[str, Any]:
    """The instruments the benchmarks trade (as the emulator lists them); returns them by symbol."""
    from decimal import Decimal

    from orders.models import Instrument

    rows = [
        ("binance.usdm", "BTCUSDT", "BTC/USDT:USDT", "linear", "0.1", "0.001", "100"),
        ("binance.spot", "BTCUSDT", "BTC/USDT", "spot", "0.01", "0.00001", "5"),
        ("binance.coinm", "BTCUSD_PERP", "BTC/USD:BTC", "inverse", "0.1", "1", "0"),
        ("bitmex", "XBTUSDT", "BTC/USDT:USDT", "linear", "0.5", "0.001", "0"),
    ]
    made = {}
    for venue_api, venue_symbol, symbol, market, tick, step, min_notional in rows:
        base_quote, _, settle = symbol.partition(":")
        base, quote = base_quote.split("/")
        made[(venue_api, symbol)] = Instrument.objects.get_or_create(
            venue_api=venue_api,
            venue_symbol=venue_symbol,
            defaults={
                "venue": venue_api.split(".")[0],
                "symbol": symbol,
                "base": base,
                "quote": quote,
                "settle": settle or None,
                "market_type": market,
                "tick_size": Decimal(tick),
                "step_size": Decimal(step),
                "min_qty": Decimal(step),
                "min_notional": Decimal(min_notional),
                "contract_size": Decimal(100 if market == "inverse" else 1),
            },
        )[0]
    return made


def api_key(account: str = "bench") -> str:
    from orders.services_accounts import api_key_create

    return api_key_create(account_name=account, scopes=["read", "trade"], label="bench")[1]


# Load generators spread their requests over this many keys of one account: each key stays
# under the per-key throttle (API_THROTTLE_RATE, 100/s by default), which stays on as deployed.
KEYS = 10


def api_keys(count: int = KEYS, account: str = "bench") -> list[str]:
    return [api_key(account) for _ in range(count)]

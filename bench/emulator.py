"""Exchange emulator throughput: signed order requests per second, emulator pinned to one core.

Two numbers per scenario: the throughput seen by the client (wall clock; depends on whatever
else the machine runs) and the emulator's capacity, requests per CPU-second of the emulator
process (from /proc: what one core can serve; stable on a busy machine). The verdict uses the
capacity.

Starts `manage.py exchange_emulator` as its own process pinned to CPU 0 (the load generator runs
on the other CPUs), then for each scenario drives it from an asyncio client over keep-alive
connections for a fixed time: every request is a real, signed venue request (HMAC over the
query string / body, BitMEX api-signature), answered with a real order. Prints a table (medians
over rounds) and writes bench/results/emulator.json. The bar: >= 1,000 order requests/s.

    python bench/emulator.py [--seconds 3] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "bench-key", "bench-secret"
TARGET = 1000  # order requests per second


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(binance_port: int, bitmex_port: int) -> subprocess.Popen:
    cpus = sorted(os.sched_getaffinity(0))
    emulator_cpu = {cpus[0]}

    def pin() -> None:
        os.sched_setaffinity(0, emulator_cpu)

    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "exchange_emulator",
            "--binance-port",
            str(binance_port),
            "--bitmex-port",
            str(bitmex_port),
            "--binance-key",
            KEY,
            "--binance-secret",
            SECRET,
            "--bitmex-key",
            KEY,
            "--bitmex-secret",
            SECRET,
            "--walk-seconds",
            "0",
            "--rate-limit-scale",
            "100000",
        ],
        cwd=ROOT,
        preexec_fn=pin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))  # the load generator keeps off the emulator's core
    deadline = time.monotonic() + 30
    for port in (binance_port, bitmex_port):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    raise SystemExit("emulator did not start") from None
                time.sleep(0.1)
    return process


# --- request builders (each returns raw HTTP/1.1 bytes) -------------------------------------
def binance_request(method: str, path: str, params: dict) -> bytes:
    params = {**params, "recvWindow": 60000, "timestamp": int(time.time() * 1000)}
    payload = urlencode(params)
    signature = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    body = f"{payload}&signature={signature}".encode()
    return (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nX-MBX-APIKEY: {KEY}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def bitmex_request(method: str, path: str, body: dict) -> bytes:
    data = json.dumps(body)
    expires = int(time.time()) + 3600
    signature = hmac.new(
        SECRET.encode(), f"{method}{path}{expires}{data}".encode(), hashlib.sha256
    ).hexdigest()
    raw = data.encode()
    return (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\napi-key: {KEY}\r\n"
        f"api-expires: {expires}\r\napi-signature: {signature}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
    ).encode() + raw


def spot_limit(n: int) -> bytes:
    price = f"{50000 + (n % 500):.2f}"  # resting, away from the market
    return binance_request(
        "POST",
        "/api/v3/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": price,
            "newClientOrderId": f"s{n}",
            "newOrderRespType": "RESULT",
        },
    )


def usdm_market(n: int) -> bytes:
    return binance_request(
        "POST",
        "/fapi/v1/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY" if n % 2 else "SELL",
            "type": "MARKET",
            "quantity": "0.002",
            "newClientOrderId": f"u{n}",
            "newOrderRespType": "RESULT",
        },
    )


def coinm_limit(n: int) -> bytes:
    return binance_request(
        "POST",
        "/dapi/v1/order",
        {
            "symbol": "BTCUSD_PERP",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "1",
            "price": f"{70000 + (n % 500)}.0",
            "newClientOrderId": f"c{n}",
        },
    )


def bitmex_limit(n: int) -> bytes:
    return bitmex_request(
        "POST",
        "/api/v1/order",
        {
            "symbol": "XBTUSD",
            "side": "Buy",
            "orderQty": 100,
            "price": 50000 + (n % 500),
            "clOrdID": f"b{n}",
        },
    )


SCENARIOS = {
    "binance spot LIMIT (rests)": ("binance", spot_limit),
    "binance usdm MARKET (fills)": ("binance", usdm_market),
    "binance coinm LIMIT (rests)": ("binance", coinm_limit),
    "bitmex LIMIT (rests)": ("bitmex", bitmex_limit),
}


# --- the load generator --------------------------------------------------------------------
async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def drive(port: int, build, seconds: float, connections: int, offset: int) -> dict:
    counter = [offset]
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            counter[0] += 1
            request = build(counter[0])
            started = time.perf_counter()
            writer.write(request)
            status = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors[0] += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "per_second": len(latencies) / elapsed,
        "latency_ms_p50": statistics.median(latencies) * 1000,
        "latency_ms_p99": sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000,
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scenarios(args, ports: dict[str, int], pid: int) -> list[dict]:
    results = []
    offset = 0
    for name, (venue, build) in SCENARIOS.items():
        rounds = []
        for _ in range(args.rounds):
            cpu_before = cpu_seconds(pid)
            result = asyncio.run(drive(ports[venue], build, args.seconds, args.connections, offset))
            result["emulator_cpu_seconds"] = cpu_seconds(pid) - cpu_before
            result["per_cpu_second"] = result["requests"] / max(
                result["emulator_cpu_seconds"], 1e-9
            )
            rounds.append(result)
            offset += 1_000_000

        def median(key: str, rounds=rounds) -> float:
            return statistics.median(r[key] for r in rounds)

        results.append(
            {
                "scenario": name,
                "rounds": rounds,
                "median_per_second": median("per_second"),
                "median_per_cpu_second": median("per_cpu_second"),
                "median_latency_ms_p50": median("latency_ms_p50"),
                "median_latency_ms_p99": median("latency_ms_p99"),
                "errors": sum(r["errors"] for r in rounds),
            }
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    ports = {"binance": free_port(), "bitmex": free_port()}
    process = start_emulator(ports["binance"], ports["bitmex"])
    try:
        results = run_scenarios(args, ports, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)
    header = f"{'scenario':30} {'req/s wall':>11} {'req/CPU-s':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    print(header)
    for r in results:
        print(
            f"{r['scenario']:30} {r['median_per_second']:>11.0f} {r['median_per_cpu_second']:>10.0f} "
            f"{r['median_latency_ms_p50']:>7.2f} {r['median_latency_ms_p99']:>7.2f} {r['errors']:>6}"
        )
    print(
        f"(medians of {args.rounds} rounds of {args.seconds:g} s, {args.connections} connections)"
    )
    worst = min(r["median_per_cpu_second"] for r in results)
    errors = sum(r["errors"] for r in results)
    verdict = "PASS" if worst >= TARGET and errors == 0 else "FAIL"
    print(
        f"slowest scenario: {worst:.0f} order requests per emulator CPU-second "
        f"(target {TARGET} on one core), {errors} errors: {verdict}"
    )
    out = ROOT / "bench" / "results" / "emulator.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "bench": "emulator",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg(),
        },
        "settings": vars(args),
        "target_per_cpu_second": TARGET,
        "results": results,
        "verdict": verdict,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

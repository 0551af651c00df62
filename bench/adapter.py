"""Adapter overhead: a signed place + cancel through the adapter (exchanges.registry.adapter_for:
rate budget, breaker and retry wrappers of reliability.guard, call records, metrics, logs)
against the same place + cancel as bare signed httpx requests, side by side in one run.

The emulator runs as its own process (manage.py exchange_emulator). For each venue API the two
variants take turns in ABBA order (bare, adapter, adapter, bare, ...), each on its own
keep-alive httpx.Client, so both see the same machine load. The bare variant signs, sends,
checks the status and decodes the JSON (any client reads the order back); the adapter also maps
the answer to a VenueOrder. Venue rate limits are raised (emulator x1000, the platform's budgets
via RATE_* variables) so no call waits for budget: the budget is charged and checked as always.
Target: adapter median <= 1.2 x bare median.

    python -m bench.adapter [--iterations 500]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import time
import uuid
from decimal import Decimal
from urllib.parse import urlencode

from bench._harness import VENUE_KEY, VENUE_SECRET, Column, Environment, Report, summary_ms

RATIO_TARGET = 1.2
# The venues' limits x1000, as the emulator runs them (--rate-limit-scale 1000): no call waits
# for budget, but the budget is charged, checked and corrected from the headers as always.
RAISED_LIMITS = {
    "RATE_BINANCE_USDM_WEIGHT_PER_MINUTE": "2400000",
    "RATE_BINANCE_USDM_ORDERS_PER_10S": "300000",
    "RATE_BINANCE_USDM_ORDERS_PER_MINUTE": "1200000",
    "RATE_BINANCE_SPOT_WEIGHT_PER_MINUTE": "6000000",
    "RATE_BINANCE_SPOT_ORDERS_PER_10S": "50000",
    "RATE_BINANCE_SPOT_ORDERS_PER_DAY": "160000000",
    "RATE_BITMEX_REQUESTS_PER_MINUTE": "120000",
    "RATE_BITMEX_ORDERS_PER_SECOND": "10000",
}


# --- the bare variant: sign, send, check, decode ------------------------------------------------
class BareBinance:
    def __init__(
        self, base_url: str, prefix: str, symbol: str, quantity: str, price: str,
        key: str = VENUE_KEY, secret: str = VENUE_SECRET,
    ):  # fmt: skip
        import httpx

        self.client = httpx.Client(base_url=base_url, timeout=10)
        self.prefix, self.symbol, self.quantity, self.price = prefix, symbol, quantity, price
        self.key, self.secret = key, secret

    def _signed(self, params: dict) -> str:
        params = {**params, "recvWindow": 5000, "timestamp": int(time.time() * 1000)}
        payload = urlencode(params)
        signature = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}&signature={signature}"

    def _check(self, response) -> dict:
        if response.status_code != 200:
            raise RuntimeError(f"bare binance: {response.status_code} {response.text[:300]}")
        return response.json()

    def place(self, client_id: str) -> dict:
        body = self._signed(
            {
                "symbol": self.symbol,
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": self.quantity,
                "price": self.price,
                "newClientOrderId": client_id,
            }
        )
        headers = {"X-MBX-APIKEY": self.key, "Content-Type": "application/x-www-form-urlencoded"}
        return self._check(self.client.post(f"{self.prefix}/order", content=body, headers=headers))

    def cancel(self, client_id: str) -> dict:
        query = self._signed({"symbol": self.symbol, "origClientOrderId": client_id})
        return self._check(
            self.client.delete(f"{self.prefix}/order?{query}", headers={"X-MBX-APIKEY": self.key})
        )

    def place_cancel(self, client_id: str) -> None:
        self.place(client_id)
        self.cancel(client_id)


class BareBitmex:
    def __init__(self, base_url: str, symbol: str, quantity: int, price: float):
        import httpx

        self.client = httpx.Client(base_url=base_url, timeout=10)
        self.symbol, self.quantity, self.price = symbol, quantity, price

    def _send(self, method: str, path: str, payload: dict) -> dict:
        data = json.dumps(payload, separators=(",", ":"))
        expires = str(int(time.time()) + 10)
        signature = hmac.new(
            VENUE_SECRET.encode(), f"{method}{path}{expires}{data}".encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            "api-key": VENUE_KEY,
            "api-expires": expires,
            "api-signature": signature,
            "Content-Type": "application/json",
        }
        response = self.client.request(method, path, content=data, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"bare bitmex: {response.status_code} {response.text[:300]}")
        return response.json()

    def place_cancel(self, client_id: str) -> None:
        self._send(
            "POST",
            "/api/v1/order",
            {
                "symbol": self.symbol,
                "side": "Buy",
                "orderQty": self.quantity,
                "price": self.price,
                "ordType": "Limit",
                "clOrdID": client_id,
            },
        )
        self._send("DELETE", "/api/v1/order", {"clOrdID": client_id})


# --- the adapter variant -----------------------------------------------------------------------
class ThroughAdapter:
    def __init__(self, venue_api: str, symbol: str, quantity: str, price: str):
        from exchanges.registry import adapter_for

        self.adapter = adapter_for(venue_api)
        self.symbol, self.quantity, self.price = symbol, Decimal(quantity), Decimal(price)

    def place_cancel(self, client_id: str) -> None:
        from exchanges.types import OrderType, PlaceOrder, Side, TimeInForce, VenueStatus

        placed = self.adapter.place_order(
            PlaceOrder(
                venue_symbol=self.symbol,
                client_order_id=client_id,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=self.quantity,
                price=self.price,
                time_in_force=TimeInForce.GTC,
            )
        )
        if placed.status != VenueStatus.NEW:
            raise RuntimeError(f"adapter: placed order is {placed.status}")
        self.adapter.cancel_order(venue_symbol=self.symbol, client_order_id=client_id)


# (venue API, symbol, quantity, resting price) for each case
CASES = [
    ("binance.usdm", "BTCUSDT", "0.010", "50000.0"),
    ("binance.spot", "BTCUSDT", "0.001", "50000.00"),
    ("bitmex", "XBTUSD", "100", "50000"),
]


def variants(env: Environment, venue_api: str, symbol: str, quantity: str, price: str):
    if venue_api == "bitmex":
        bare = BareBitmex(env.bitmex_url, symbol, int(quantity), float(price))
    else:
        prefix = {"binance.usdm": "/fapi/v1", "binance.spot": "/api/v3"}[venue_api]
        bare = BareBinance(env.binance_url, prefix, symbol, quantity, price)
    return {"bare httpx": bare, "adapter": ThroughAdapter(venue_api, symbol, quantity, price)}


def measure(runners: dict, iterations: int, warmup: int = 30) -> tuple[dict, dict]:
    """ABBA turns: every variant runs as often first as second. Returns the wall times of
    each place + cancel and each variant's CPU seconds (this process, user + system) in all."""
    names = list(runners)
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, float] = dict.fromkeys(names, 0.0)
    for i in range(warmup + iterations):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            client_id = f"bn{uuid.uuid4().hex[:30]}"
            cpu_started = time.process_time()
            started = time.perf_counter()
            runners[name].place_cancel(client_id)
            elapsed = time.perf_counter() - started
            if i >= warmup:
                times[name].append(elapsed)
                cpu[name] += time.process_time() - cpu_started
    return times, cpu


def redis_per_pair(runner, pairs: int = 200) -> dict[str, float]:
    """Redis traffic of one place + cancel through the adapter, in a pass of its own (not
    timed): commands Redis ran (INFO commandstats), and trips the call path waited for (a
    command sent and its reply read before going on) beside sends it did not wait for."""
    import redis

    from monitoring.redis import state_client
    from reliability.channel import Channel

    counts = {"waited": 0, "unwaited": 0}
    originals = {
        (Channel, "call"): Channel.call,
        (Channel, "send"): Channel.send,
        (redis.Redis, "execute_command"): redis.Redis.execute_command,
        (redis.client.Pipeline, "execute"): redis.client.Pipeline.execute,
    }

    def counting(original, kind):
        def wrapper(*args, **kwargs):
            counts[kind] += 1
            return original(*args, **kwargs)

        return wrapper

    client = state_client()
    client.config_resetstat()
    Channel.call = counting(originals[(Channel, "call")], "waited")
    Channel.send = counting(originals[(Channel, "send")], "unwaited")
    redis.Redis.execute_command = counting(originals[(redis.Redis, "execute_command")], "waited")
    redis.client.Pipeline.execute = counting(
        originals[(redis.client.Pipeline, "execute")], "waited"
    )
    try:
        for _ in range(pairs):
            runner.place_cancel(f"bn{uuid.uuid4().hex[:30]}")
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)
    stats = client.info("commandstats")
    commands = sum(
        v["calls"] for k, v in stats.items() if not k.startswith(("cmdstat_config", "cmdstat_info"))
    )
    scripts = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    return {
        "redis_waited_per_pair": counts["waited"] / pairs,
        "redis_unwaited_per_pair": counts["unwaited"] / pairs,
        "redis_commands_per_pair": commands / pairs,
        "redis_scripts_per_pair": scripts / pairs,
    }


COLUMNS = [
    Column("venue_api", "venue API"),
    Column("variant", "place + cancel"),
    Column("n", "n"),
    Column("p50", "p50 ms", ".3f"),
    Column("p90", "p90 ms", ".3f"),
    Column("p99", "p99 ms", ".3f"),
    Column("ratio_p50", "ratio p50", ".2f"),
    Column("ratio_p99", "ratio p99", ".2f"),
    Column("cpu_ms", "CPU ms", ".3f"),
    Column("redis_waited_per_pair", "Redis trips waited", ".2f"),
    Column("redis_unwaited_per_pair", "sends not waited", ".2f"),
    Column("redis_scripts_per_pair", "scripts run", ".2f"),
]


def rows_for(venue_api: str, times: dict[str, list[float]], cpu: dict, redis: dict) -> list[dict]:
    """One row per variant; CPU ms is this process's CPU per place + cancel (user + system),
    the Redis columns are per place + cancel too (the bare variant makes none)."""
    bare = summary_ms(times["bare httpx"])
    rows = []
    for name, values in times.items():
        s = summary_ms(values)
        rows.append(
            {
                "venue_api": venue_api,
                "variant": name,
                **s,
                "ratio_p50": round(s["p50"] / bare["p50"], 3),
                "ratio_p99": round(s["p99"] / bare["p99"], 3),
                "cpu_ms": round(cpu[name] / max(1, len(values)) * 1000, 3),
                **(redis if name == "adapter" else {}),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500, help="place+cancel per variant")
    args = parser.parse_args(argv)
    report = Report("adapter", settings=vars(args))
    rows: list[dict] = []
    with Environment("adapter", emulator=True, extra_env=RAISED_LIMITS) as env:
        for venue_api, symbol, quantity, price in CASES:
            runners = variants(env, venue_api, symbol, quantity, price)
            times, cpu = measure(runners, args.iterations)
            redis = redis_per_pair(runners["adapter"])
            rows += rows_for(venue_api, times, cpu, redis)
            env.procs.check_alive()
        from reliability.breaker import breaker_for

        states = {api: breaker_for(api).state.value for api, *_ in CASES}
    report.data["breakers_after"] = states
    report.table(
        "overhead",
        f"adapter: signed place + cancel, {args.iterations} interleaved (ABBA) pairs per variant",
        COLUMNS,
        rows,
    )
    for row in rows:
        if row["variant"] == "adapter":
            report.target(f"{row['venue_api']} adapter/bare p50", row["ratio_p50"], RATIO_TARGET)
    report.write()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

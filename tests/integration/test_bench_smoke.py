"""The benchmarks (bench/, run by `make bench`, not by `make test`) import, measure on a tiny
scale and write their table and JSON: each piece runs here in well under a second."""

from __future__ import annotations

import importlib
import json
import os
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import _harness as harness

BENCHES = [
    "reads",
    "api_accept",
    "adapter",
    "end_to_end",
    "detection",
    "emulator",
    "web_cost",
    "chaos",
]


@pytest.mark.parametrize("name", BENCHES)
def test_it_imports_every_benchmark_with_a_main(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.main)


def test_it_writes_the_table_and_the_json(tmp_path):
    report = harness.Report("smoke", settings={"n": 2})
    text = report.table(
        "rows",
        "smoke: a table",
        [harness.Column("what", "what"), harness.Column("ms", "ms", ".2f")],
        [{"what": "a", "ms": 1.234}, {"what": "bb", "ms": float("nan")}],
    )
    report.target("p99", 12.0, 10.0, "ms")
    path = report.write(tmp_path)

    assert text.splitlines()[2] == "| what | ms   |"
    assert "| a    | 1.23 |" in text and "| bb   |  nan |" in text
    data = json.loads(path.read_text())
    assert data["bench"] == "smoke" and data["settings"] == {"n": 2}
    assert data["results"]["rows"][0] == {"what": "a", "ms": 1.234}
    assert data["targets"] == [
        {"target": "p99", "measured": 12.0, "limit": 10.0, "unit": "ms", "verdict": "FAIL"}
    ]
    assert data["machine"]["nproc"] >= 1 and data["machine"]["python"]
    assert set(data["load_before"]) == {"1m", "5m", "15m"}
    assert report.failed


def test_it_reads_the_arguments_into_the_runs_settings_and_exits_1_on_a_missed_target(tmp_path):
    parser = harness.arguments("bench: what it measures\n\nhow")
    harness.add_rates(parser, default="1,5")
    parser.add_argument("--workers", type=harness.comma_list(int), default="2")

    args, report = harness.parse_arguments("smoke", parser, ["--rates", "2,20.5"])
    assert parser.description == "bench: what it measures"
    assert (args.rates, args.workers) == ([2.0, 20.5], [2])
    assert report.settings == {"rates": [2.0, 20.5], "workers": [2]}
    assert harness.parse_arguments("smoke", parser, [])[0].rates == [1.0, 5.0]

    report.target("p99", 1.0, 10.0, "ms")
    assert report.finish(tmp_path) == 0
    report.target("max", 12.0, 10.0, "ms")
    assert report.finish(tmp_path) == 1


def test_it_takes_nearest_rank_percentiles():
    values = [v / 1000 for v in range(1, 101)]  # 1..100 ms
    assert harness.percentile([5, 1, 3], 50) == 3
    assert harness.summary_ms(values) | {"mean": 0} == {
        "n": 100,
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "max": 100.0,
        "mean": 0,
    }


def test_it_brackets_a_p99_ratio_with_a_bootstrap_interval():
    small = [1 + (i % 100) / 100 for i in range(1000)]
    low, high = harness.p99_ratio_ci(small, [2 * t for t in small])
    assert low == high == 2  # a ratio every resample agrees on
    spiky = [t + (5 if i % 97 == 0 else 0) for i, t in enumerate(small)]  # 11 outliers in 1,000
    low, high = harness.p99_ratio_ci(small, spiky)
    # the p99 of 1,000 is the 11th-largest: on the edge of the 11 outliers, 3x or 1x by chance
    assert low < 1.5 < high
    assert harness.abba("ab", 0) == ["a", "b"] and harness.abba("ab", 1) == ["b", "a"]
    calls = []
    times = harness.interleaved(
        ["q"], ["a", "b"], lambda n, v: calls.append(v) or 0.0, rounds=2, warmup=1
    )
    assert calls == ["a", "b", "b", "a", "a", "b"] and times == {
        ("q", "a"): [0.0] * 2,
        ("q", "b"): [0.0] * 2,
    }


@pytest.mark.django_db(transaction=True)
def test_it_copies_orders_and_measures_the_list_queries(tmp_path):
    from django.db.models import F

    from bench import reads
    from orders.models import Account, Order

    made = list(harness.instruments().values())
    harness.api_key()
    account = Account.objects.get(name="bench")
    reads.load_orders(using="default", count=150, account_id=account.pk, instruments=made, seed=1)
    reads.analyze("default")

    assert Order.objects.count() == 150
    assert Order.objects.filter(state="FILLED", filled_quantity=F("quantity")).exists()
    assert not Order.objects.exclude(state__in=["FILLED", "PARTIALLY_FILLED"]).filter(
        filled_quantity__gt=0
    )
    assert Order.objects.filter(state__in=["NEW", "PARTIALLY_FILLED"]).count() == reads.ACTIVE
    queries = reads.query_set("default", account.pk)
    datasets = {"a": ("default", account, queries), "b": ("default", account, queries)}
    times = reads.measure_selectors(datasets, iterations=2, warmup=0)
    rows = reads.ratio_rows(times, "a", "b")
    assert [r["query"] for r in rows] == [*queries, "(all pooled)"]
    assert all(r["n"] == 2 and r["small_p50_ms"] > 0 for r in rows[:-1])
    assert rows[-1]["n"] == 2 * len(queries)
    plans = reads.explain("default", account, {"newest page": {}, "two states": queries[TWO]})
    assert "Limit" in plans["newest page"]["plan"]
    assert 101 <= plans["newest page"]["rows"] <= 150 and plans["newest page"]["buffers"] > 0
    assert plans["two states"]["plan"].count("---") == 1  # the merge, then the rows
    assert reads.plan_rows(plans, plans)[0]["large_rows"] == plans["newest page"]["rows"]
    report = harness.Report("reads", settings={})
    report.table("selectors", "reads", reads.ratio_columns("a", "b"), rows)
    assert json.loads(report.write(tmp_path).read_text())["results"]["selectors"][0]["n"] == 2


TWO = "state=FILLED,CANCELED"


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_puts_back_every_index_and_constraint():
    from django.db import connection

    from bench import reads
    from orders.models import Account

    def schema():
        with connection.cursor() as cursor:
            # names, columns, uniqueness, partial or not (a rebuilt predicate deparses anew)
            cursor.execute(
                "SELECT c.relname || ' ' || i.indkey::text || ' ' || i.indisunique::text"
                " || ' ' || (i.indpred IS NULL)::text FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = 'orders_order'::regclass UNION ALL"
                " SELECT conname || ' ' || contype::text FROM pg_constraint"
                " WHERE conrelid = 'orders_order'::regclass"
            )
            return sorted(r[0] for r in cursor.fetchall())

    made = list(harness.instruments().values())
    account = Account.objects.create(name="bulk")
    before = schema()
    with connection.cursor() as cursor:
        rebuild = reads._drop_secondary_indexes(cursor)
        assert len(schema()) < len(before)
        for statement in rebuild:
            cursor.execute(statement)
    assert schema() == before
    reads.load_orders(
        using="default", count=300, account_id=account.pk, instruments=made, seed=2, bulk=True
    )
    assert schema() == before
    assert account.orders.count() == 300
    assert schema() == before


@pytest.mark.django_db(transaction=True)
def test_a_benchmark_database_holds_none_of_the_orders_database_url_holds(order_factory, account):
    """bench/console.py seeds a million orders into DATABASE_URL's database; the other
    benchmarks' databases were copies of it, so the reads benchmark's "10 k" set was a table of
    1.01 M rows (and its keyset page read 5,050 of them). Now every run copies a fresh, empty
    template."""
    import psycopg
    from django.db import connection

    from bench import reads

    order_factory(account)
    url = harness._with_path(os.environ["DATABASE_URL"], f"/{connection.settings_dict['NAME']}")
    env = harness.Environment("isolation")
    try:
        env._migrate_template(url)
        copy = env.create_database("bench_isolation")
        with psycopg.connect(copy) as conn:
            assert conn.execute("SELECT count(*) FROM orders_order").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
    finally:
        for name in env.databases:
            env._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        env._remove_tmp()
    with pytest.raises(RuntimeError, match="holds 1 orders, not the 0 loaded"):
        reads.check_alone("default", 0)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_it_sends_on_a_fixed_schedule_and_counts_errors():
    from bench._load import Request, open_loop

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x"
    try:
        result = open_loop(lambda i: Request("GET", url), rate=100, seconds=0.3, warmup=2)
    finally:
        server.shutdown()
        server.server_close()
    row = result.row()
    assert row["sent"] == 30 and row["ok"] == 30 and row["errors"] == 0
    assert sorted(i for i, *_ in result.samples) == list(range(30))
    refused = open_loop(lambda i: Request("GET", url), rate=50, seconds=0.1, warmup=0)
    assert refused.row()["errors"] == 5 and "ConnectionRefusedError" in refused.statuses


def test_it_summarises_api_accept_rounds():
    from bench import api_accept
    from bench._load import LoadResult

    rounds = [
        LoadResult(rate=200, seconds=1, latencies=[0.001, 0.002], statuses={"202": 2}),
        LoadResult(rate=200, seconds=1, latencies=[0.003, 0.004], statuses={"202": 1, "500": 1}),
    ]
    (row,) = api_accept.rows_for({(2, "", 200): rounds})
    assert (
        row["workers"] == 2
        and row["variant"] == "deployed"
        and row["sent"] == 4
        and row["errors"] == 1
    )
    assert row["p99_ms"] == 4.0
    assert row["round_p99_ms"] == 3.0
    assert "server_cpu_ms" not in row
    cpu = {(2, "X=0", 200): [(0.2, 0.02), (0.22, 0.022)]}  # (gunicorn, generator) CPU s/round
    (row,) = api_accept.rows_for({(2, "X=0", 200): rounds}, cpu)
    assert row["variant"] == "X=0"
    sent = 4 + 2 * api_accept.WARMUP
    assert row["server_cpu_ms"] == pytest.approx(420 / sent)
    assert row["generator_cpu_ms"] == pytest.approx(42 / sent)
    request = api_accept.order_request("http://127.0.0.1:1", ["k1", "k2"], 3)
    assert request.headers["Idempotency-Key"] and b'"price": "60003.5"' in request.body
    assert request.headers["Authorization"] == "Bearer k2"


@pytest.mark.django_db(transaction=True)
def test_it_times_the_bare_request_beside_the_adapter(emulator, fresh_reliability):
    # fresh breaker handles: an earlier test's handle may still be on a local (open) breaker
    from bench import adapter

    bare = adapter.BareBinance(
        emulator.binance_url,
        "/fapi/v1",
        "BTCUSDT",
        "0.010",
        "50000.0",
        key=emulator.binance_api_key,
        secret=emulator.binance_api_secret,
    )
    runners = {
        "bare httpx": bare,
        "adapter": adapter.ThroughAdapter("binance.usdm", "BTCUSDT", "0.010", "50000.0"),
    }
    times, cpu = adapter.measure(runners, iterations=2, warmup=1)
    redis = adapter.redis_per_pair(runners["adapter"], pairs=2)
    rows = adapter.rows_for("binance.usdm", times, cpu, redis)
    assert [r["variant"] for r in rows] == ["bare httpx", "adapter"]
    assert rows[0]["ratio_p50"] == 1.0 and rows[1]["n"] == 2
    assert rows[0]["cpu_ms"] > 0 and rows[1]["cpu_ms"] > 0
    assert rows[1]["redis_commands_per_pair"] >= 0 <= rows[1]["redis_waited_per_pair"]
    assert "redis_waited_per_pair" not in rows[0]  # the bare variant makes no Redis trip
    assert len([o for o in emulator.orders("binance") if o["status"] == "CANCELED"]) == 8


def test_it_computes_the_alert_time_from_the_rule(tmp_path):
    from bench import detection

    (tmp_path / "rules").mkdir()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 15s, evaluation_interval: 30s}\n"
    )
    (tmp_path / "rules" / "alerts.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - alert: VenueBreakerOpen\n"
        "    expr: max by (venue) (circuit_breaker_state) == 2\n    for: 1m\n"
    )
    timing = detection.alert_timing(tmp_path)
    assert (timing["best_s"], timing["mean_s"], timing["worst_s"]) == (60, 82.5, 105)
    assert detection.alert_timing(tmp_path / "missing") is None
    rows = detection.summarize(
        [
            {"mode": "refuse", "rate": 5, "opened": True, "detection_s": 0.5, "trigger": "f"},
            {"mode": "refuse", "rate": 5, "opened": True, "detection_s": 1.5, "trigger": "f"},
        ]
    )
    assert rows == [
        {
            "mode": "refuse",
            "rate": 5,
            "trials": 2,
            "opened": 2,
            "median_s": 1.0,
            "max_s": 1.5,
            "trigger": "f",
        }
    ]


def test_it_composes_the_chaos_fault_shares_and_names_venue_states():
    from bench import chaos

    rules = chaos.fault_rules(7)
    left, shares = 1.0, []
    for rule in rules:  # the first rule that fires applies
        shares.append(left * rule["probability"])
        left -= shares[-1]
    assert [round(s, 4) for s in shares] == [0.10, 0.10, 0.10, 0.05]
    assert [r["effect"] for r in rules] == ["error", "error", "timeout", "rate_limit"]
    assert rules[0]["accept"] and rules[2]["delay"] > 2  # longer than the chaos read timeout
    assert chaos._state("PartiallyFilled") == "PARTIALLY_FILLED" and chaos._state("NEW") == "NEW"
    assert chaos._filled_share({"filled_quantity": "3000", "quantity": "6000"}) == Decimal("0.5")

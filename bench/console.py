"""The operators' console on a million orders: each admin page's time and SQL query count.

Migrates the database DATABASE_URL names, seeds N orders (default 1,000,000) with two events
each, a share of them reconciliation and operator events, fills and venue-call attempts, in a
few INSERT ... SELECT generate_series statements, runs ANALYZE (as autovacuum would), then
renders every console page through Django's test client as a superuser: the dashboard, the
order list unfiltered / by state / by venue / by search, an order page and its timeline.
Prints a table (median of rounds) and writes bench/results/console.json. The bar: every page
under 500 ms. Refuses to run on a database that already holds orders unless --reuse.

    python bench/console.py [--orders 1000000] [--rounds 5] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading.settings")
BAR_MS = 500

# state, share of orders (the rest are FILLED)
STATES = [
    ("CANCELED", 0.25),
    ("NEW", 0.05),
    ("PARTIALLY_FILLED", 0.02),
    ("EXPIRED", 0.02),
    ("REJECTED", 0.01),
    ("FAILED", 0.002),
    ("SUBMIT_UNKNOWN", 0.0005),
    ("PENDING_NEW", 0.0005),
    ("PENDING_CANCEL", 0.0003),
    ("PENDING_AMEND", 0.0002),
]


def state_case() -> str:
    """SQL: a state for row g, from the shares above (deterministic by g)."""
    parts, edge = [], 0.0
    for state, share in STATES:
        edge += share
        parts.append(f"WHEN (g %% 100000) < {int(edge * 100000)} THEN '{state}'")
    return "CASE " + " ".join(parts) + " ELSE 'FILLED' END"


def seed(n: int) -> None:
    from django.db import connection

    from orders.models import Instrument
    from orders.services_accounts import api_key_create
    from tests.fixtures.orders import instrument_rows

    for row in instrument_rows():
        Instrument.objects.get_or_create(
            venue_api=row["venue_api"], venue_symbol=row["venue_symbol"], defaults=row
        )
    accounts = [
        api_key_create(account_name=f"desk-{i}", scopes=["read"])[0].account_id for i in range(20)
    ]
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT array_agg(id ORDER BY id), array_agg(venue ORDER BY id), array_agg(venue_api ORDER BY id) FROM orders_instrument"
        )
        ids, venues, apis = cur.fetchone()
        cur.execute(
            f"""
            INSERT INTO orders_order (account_id, instrument_id, venue, venue_api, side, type,
              time_in_force, quantity, price, filled_quantity, state, client_order_id,
              request_fingerprint, failover_venues, version, reject_reason,
              cancel_confirm_source, created_at, updated_at, unknown_since)
            SELECT (%s::bigint[])[1 + g %% {len(accounts)}],
                   (%s::bigint[])[1 + g %% {len(ids)}],
                   (%s::text[])[1 + g %% {len(ids)}],
                   (%s::text[])[1 + g %% {len(ids)}],
                   CASE WHEN g %% 2 = 0 THEN 'buy' ELSE 'sell' END, 'limit', 'GTC',
                   1, 100, 0, {state_case()}, 'tpb' || lpad(g::text, 31, '0'), '', '{{}}', 2,
                   '', '', now() - (%s - g) * interval '1 second',
                   now() - (%s - g) * interval '1 second',
                   now() - (%s - g) * interval '1 second'
            FROM generate_series(1, %s) AS g
            """,
            [accounts, ids, venues, apis, n, n, n, n],
        )
        cur.execute(
            """
            INSERT INTO orders_orderevent (order_id, sequence, from_state, to_state, reason, actor,
              created_at)
            SELECT id, 1, NULL, 'PENDING_NEW', 'accepted by the API', 'api', created_at
            FROM orders_order
            UNION ALL
            SELECT id, 2, 'PENDING_NEW', state,
                   CASE WHEN id % 50 = 0 THEN 'reconciliation: venue says ' || state
                        WHEN id % 997 = 0 THEN 'cancel requested by operator admin'
                        ELSE 'venue answer' END,
                   CASE WHEN id % 50 = 0 THEN 'reconciler' WHEN id % 997 = 0 THEN 'operator'
                        ELSE 'worker' END,
                   created_at + interval '50 milliseconds'
            FROM orders_order WHERE state <> 'PENDING_NEW'
            """
        )
        cur.execute(
            """
            INSERT INTO orders_orderattempt (order_id, operation, venue_api, endpoint,
              client_order_id, started_at, finished_at, outcome, error_code, error_class,
              error_message, duration_ms, request)
            SELECT id, 'submit', venue_api, 'POST /order', client_order_id, created_at,
                   created_at + interval '20 milliseconds', 'ok', '', '', '', 20, '{}'
            FROM orders_order
            """
        )
        cur.execute(
            """
            INSERT INTO orders_fill (order_id, venue_api, trade_id, quantity, price, fee, ts,
              created_at)
            SELECT id, venue_api, 't' || id, 1, 100, 0, created_at + interval '40 milliseconds',
                   created_at
            FROM orders_order WHERE state = 'FILLED'
            """
        )
        cur.execute("ANALYZE")
    print(f"seeded {n:,} orders in {time.perf_counter() - started:.1f} s")


def measure(rounds: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    sample = Order.objects.order_by("-id").values_list("id", "client_order_id").first()
    pages = [
        ("dashboard", "/admin/dashboard/"),
        ("order list", "/admin/orders/order/"),
        ("order list, page 50", "/admin/orders/order/?p=50"),
        ("orders SUBMIT_UNKNOWN", "/admin/orders/order/?state__exact=SUBMIT_UNKNOWN"),
        ("orders FAILED", "/admin/orders/order/?state__exact=FAILED"),
        ("orders FILLED", "/admin/orders/order/?state__exact=FILLED"),
        ("orders venue bitmex", "/admin/orders/order/?venue=bitmex"),
        ("orders market inverse", "/admin/orders/order/?instrument__market_type__exact=inverse"),
        ("search client order id", f"/admin/orders/order/?q={sample[1]}"),
        ("order page", f"/admin/orders/order/{sample[0]}/change/"),
        ("order timeline", f"/admin/orders/order/{sample[0]}/timeline/"),
    ]
    results = []
    for name, url in pages:
        times, queries = [], 0
        client.get(url)  # warm-up: template compilation and first connections are not the page
        for _ in range(rounds):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(ctx.captured_queries)
        ms = statistics.median(times)
        results.append({"page": name, "url": url, "ms": round(ms, 1), "queries": queries})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep and use the orders present")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    from bench._harness import logs_to

    log_file = Path(tempfile.mkdtemp(prefix="bench-console-")) / "console.log"
    logs_to(open(log_file, "a"))  # noqa: SIM115 - lives as long as the process
    print(f"log lines: {log_file}")

    from orders.models import Order

    call_command("migrate", verbosity=0)
    present = Order.objects.exists()
    if present and not args.reuse:
        print("bench/console.py: the database already holds orders; use --reuse", file=sys.stderr)
        return 2
    if not present:
        seed(args.orders)
    total = Order.objects.count()
    results = measure(args.rounds)
    print(f"\n{'page':<26}{'ms (median)':>12}{'queries':>9}")
    for row in results:
        print(f"{row['page']:<26}{row['ms']:>12}{row['queries']:>9}")
    ok = all(row["ms"] < BAR_MS for row in results)
    print(f"\n{total:,} orders; bar: every page < {BAR_MS} ms: {'PASS' if ok else 'FAIL'}")
    out = ROOT / "bench" / "results" / "console.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "orders": total,
                "rounds": args.rounds,
                "bar_ms": BAR_MS,
                "pass": ok,
                "machine": platform.platform(),
                "pages": results,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

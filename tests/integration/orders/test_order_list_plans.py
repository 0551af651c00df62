"""A page of GET /api/v1/orders reads about one page of rows, however many orders the account
has (bench/reads.py measures it at 10 k and 1 M orders; this guards the query plans).

Each case runs the selector's SQL under EXPLAIN ANALYZE and counts the rows every plan node
produced or threw away: a deep keyset page or a filter on several states or instruments must
not walk the rows before the cursor or sort every match.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import selectors
from orders.models import Order

pytestmark = pytest.mark.django_db

N, LIMIT = 4000, 50
STATES = ["NEW", "FILLED", "CANCELED", "REJECTED"]
MARKETS = ["binance.usdm:BTCUSDT", "bitmex:XBTUSDT", "binance.spot:ETHUSDT"]


@pytest.fixture
def history(account, instruments):
    return load_history(account, instruments)


def load_history(account, instruments):
    start = timezone.now() - timedelta(days=30)
    rows = []
    for i in range(N):
        inst = instruments[MARKETS[i % len(MARKETS)]]
        created = start + timedelta(seconds=600 * (i // 2))  # pairs share a timestamp
        rows.append(
            Order(
                account=account,
                instrument=inst,
                venue=inst.venue,
                venue_api=inst.venue_api,
                side="buy",
                type="limit",
                quantity=Decimal("1"),
                price=Decimal("100"),
                state=STATES[(i * 7) % len(STATES)],
                client_order_id=f"plan{i:030d}",
                created_at=created,
                updated_at=created,
            )
        )
    Order.objects.bulk_create(rows, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    return account


class Touched(int):
    """The most rows any plan node produced or filtered out; repr shows the plans (for the
    assertion message when a bound is broken)."""

    plans: list[str]

    def __repr__(self) -> str:
        return f"{int(self)} rows, plans:\n" + "\n---\n".join(self.plans)


def rows_touched(**filters) -> Touched:
    """The most rows any plan node of the page's queries produced or filtered out.

    The statistics are refreshed right before each EXPLAIN, so the plan judged follows the rows
    the fixture loaded whatever happened to them meanwhile (the bound was once broken under
    load, 222 rows, with the plan lost: the message now carries every plan).
    """
    with CaptureQueriesContext(connection) as captured:
        page = selectors.order_list(limit=LIMIT, **filters)
    assert len(page.results) == LIMIT
    worst, plans = 0, []
    for query in captured.captured_queries:
        if "orders_order" not in query["sql"] or "EXPLAIN" in query["sql"]:
            continue
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE orders_order")
            cursor.execute("EXPLAIN ANALYZE " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        plans.append(plan)
        counts = [int(n) for n in re.findall(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)]
        counts += [int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", plan)]
        worst = max(worst, *counts)
    touched = Touched(worst)
    touched.plans = plans
    return touched


def middle_cursor(account) -> str:
    middle = Order.objects.filter(account=account).order_by("-created_at", "-id")[N // 2]
    return selectors.encode_cursor({"t": middle.created_at.isoformat(), "id": middle.pk})


def test_a_deep_keyset_page_reads_one_page(history):
    assert rows_touched(account=history, cursor=middle_cursor(history)) <= 3 * LIMIT


def test_several_states_read_one_page_per_state(history):
    touched = rows_touched(account=history, states=["FILLED", "CANCELED", "REJECTED"])
    assert touched <= 3 * (LIMIT + 1)


def test_a_symbol_on_several_venues_reads_one_page_per_instrument(history):
    # BTC/USDT:USDT is listed on binance.usdm and bitmex
    assert rows_touched(account=history, symbol="BTC/USDT:USDT") <= 3 * (LIMIT + 1)


def test_merged_pages_still_walk_in_order(history):
    expected = list(
        Order.objects.filter(account=history, state__in=["NEW", "REJECTED"])
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    seen, cursor = [], None
    while True:
        page = selectors.order_list(
            account=history, states=["NEW", "REJECTED"], cursor=cursor, limit=300
        )
        seen += [o.pk for o in page.results]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected

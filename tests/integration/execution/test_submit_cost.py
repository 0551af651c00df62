"""What one submit costs the worker: SQL statements on the path from the task to NEW, and the
write-ahead attempt rows written on the way (orders/execution/submit.py, attempts.py).

Pins the round trips so a change that adds one (a lookup, a savepoint, a second UPDATE of the
attempt) fails here rather than on the end-to-end benchmark, and checks that an acknowledged
call is never left `pending` by the one-UPDATE recording, whatever ends the block.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchanges.errors import DuplicateOrderError
from exchanges.registry import adapter_for
from orders import services
from orders.execution import attempts, venue
from orders.execution.submit import order_submit
from orders.models import Order, OrderAttempt, OrderEvent
from tests.fixtures.execution import instrument, order_body

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USDM = "binance.usdm"
SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def accepted(api, emulator, venue_instruments):
    def make() -> Order:
        body = order_body(instrument(USDM, SYMBOL), emulator, type="limit")
        return services.order_create(account=api.account, data=body)

    return make


def _kind(sql: str) -> str:
    """'lock', 'unlock', 'BEGIN', 'COMMIT' or '<verb> <tables it names>' of one statement."""
    if "pg_try_advisory_lock" in sql:
        return "lock"
    if "pg_advisory_unlock" in sql:
        return "unlock"
    tables = sorted(set(re.findall(r'(?:FROM|INTO|UPDATE|JOIN)\s+"(orders_\w+)"', sql)))
    return " ".join([sql.split()[0], ",".join(tables)]).strip()


def test_an_acknowledged_submit_costs_nine_statements_and_one_transaction_after_the_answer(
    accepted,
):
    order = accepted()
    order_submit(order_id=accepted().pk)  # warm: connections, adapter, instrument
    with CaptureQueriesContext(connection) as queries:
        assert order_submit(order_id=order.pk) == "acknowledged"

    kinds = [_kind(q["sql"]) for q in queries.captured_queries]
    assert kinds == [
        "lock",
        # the order, its instrument and whether a submit is still `pending`: one query
        "SELECT orders_instrument,orders_order,orders_orderattempt",
        "INSERT orders_orderattempt",  # write-ahead, committed before the request leaves
        "UPDATE orders_orderattempt",  # outcome and the venue's answer in one UPDATE
        "BEGIN",
        "UPDATE orders_order",  # compare-and-set to NEW
        "INSERT orders_orderevent",  # its event, the sequence computed by the INSERT
        "COMMIT",
        "unlock",
    ], kinds
    attempt = OrderAttempt.objects.get(order_id=order.pk)
    assert attempt.outcome == "ok" and attempt.http_status == 200
    assert attempt.response["venue_order_id"] == Order.objects.get(pk=order.pk).venue_order_id
    sequences = list(
        OrderEvent.objects.filter(order_id=order.pk)
        .order_by("id")
        .values_list("sequence", flat=True)
    )
    assert sequences == [1, 2]


def test_a_block_interrupted_after_an_acknowledged_call_records_the_call_as_ok(accepted):
    order = accepted()
    adapter = adapter_for(USDM)
    request = venue.place_request(order)
    with (
        pytest.raises(RuntimeError),
        attempts.write_ahead(order, operation="submit", request=venue.summary(request)),
    ):
        adapter.place_order(request)
        raise RuntimeError("crash after the venue answered")

    attempt = OrderAttempt.objects.get(order_id=order.pk)
    assert attempt.outcome == "ok" and attempt.http_status == 200  # not `pending`


def test_a_failed_call_after_an_acknowledged_one_records_both(accepted):
    order = accepted()
    adapter = adapter_for(USDM)
    request = venue.place_request(order)
    with (
        pytest.raises(DuplicateOrderError),
        attempts.write_ahead(order, operation="submit", request=venue.summary(request)) as calls,
    ):
        venue_order = adapter.place_order(request)
        calls.response = {"venue_order_id": venue_order.venue_order_id}
        adapter.place_order(request)  # the same client order id again: the venue refuses

    rows = list(OrderAttempt.objects.filter(order_id=order.pk).order_by("id"))
    assert [r.outcome for r in rows] == ["ok", "rejected"]
    assert rows[0].http_status == 200 and rows[0].finished_at is not None

"""lifecycle.accept writes a new order and its first event with one statement (orders/inserts.py):
the same rows the ORM would write, both or neither, and a repeated idempotency key still finds
the original outside any transaction (autocommit) as inside one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DataError, connection
from django.forms.models import model_to_dict
from django.utils import timezone

from orders import lifecycle, services
from orders.models import Order, OrderEvent
from tests.fixtures.orders import LIMIT_ORDER_BODY

pytestmark = pytest.mark.django_db(transaction=True)

BODY = LIMIT_ORDER_BODY


DEADLINE = timezone.now() + timedelta(days=1)


def _fields(account, instrument, n: int, **overrides) -> dict:
    return {
        "account": account,
        "instrument": instrument,
        "venue": instrument.venue,
        "venue_api": instrument.venue_api,
        "side": "buy",
        "type": "limit",
        "time_in_force": "GTC",
        "quantity": Decimal("0.010"),
        "price": Decimal("65000.5"),
        "client_order_id": f"tp-insert-{n}",
        "idempotency_key": f"key-{n}",
        "request_fingerprint": "f" * 64,
        "failover_venues": ["bitmex"],
        "submit_deadline": DEADLINE,
        **overrides,
    }


def _row(order_id: int) -> tuple[dict, list[dict]]:
    order = model_to_dict(Order.objects.get(pk=order_id))
    events = [model_to_dict(e) for e in OrderEvent.objects.filter(order_id=order_id)]
    for skip in ("id", "client_order_id", "idempotency_key", "created_at", "updated_at"):
        order.pop(skip)
    for event in events:
        for skip in ("id", "order", "created_at"):
            event.pop(skip)
    return order, events


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"type": "market", "price": None, "time_in_force": None, "failover_venues": []},
        {"idempotency_key": None, "submit_deadline": None},
    ],
    ids=["limit", "market-no-failover", "no-key"],
)
def test_it_writes_the_rows_the_orm_would_write(account, instruments, overrides):
    instrument = instruments["binance.usdm:BTCUSDT"]
    payload = {"source": "test", "price": Decimal("1.5")}
    accepted = lifecycle.accept(
        actor="api",
        reason="accepted",
        correlation_id="cid-1",
        payload=payload,
        **_fields(account, instrument, 1, **overrides),
    )
    now = timezone.now()
    by_orm = Order.objects.create(
        state="PENDING_NEW",
        version=1,
        created_at=now,
        updated_at=now,
        **_fields(account, instrument, 2, **overrides),
    )
    OrderEvent.objects.create(
        order=by_orm,
        sequence=1,
        from_state=None,
        to_state="PENDING_NEW",
        reason="accepted",
        actor="api",
        correlation_id="cid-1",
        venue_payload=payload,
        created_at=now,
    )

    assert accepted.pk and not accepted._state.adding
    assert _row(accepted.pk) == _row(by_orm.pk)
    stored = Order.objects.get(pk=accepted.pk)
    assert (stored.created_at, stored.client_order_id) == (accepted.created_at, "tp-insert-1")


def test_an_event_that_cannot_be_written_leaves_no_order(account, instruments):
    instrument = instruments["binance.usdm:BTCUSDT"]
    assert not connection.in_atomic_block  # autocommit: the statement is its own transaction
    with pytest.raises(DataError):
        lifecycle.accept(
            actor="api",
            reason="accepted",
            correlation_id="x" * 65,  # longer than the event's column
            **_fields(account, instrument, 3),
        )
    assert not Order.objects.exists()
    assert not OrderEvent.objects.exists()


def test_a_repeated_key_outside_a_transaction_answers_the_original(account, instruments):
    assert not connection.in_atomic_block
    first = services.order_create(account=account, data=BODY, idempotency_key="same")
    again = services.order_create(account=account, data=BODY, idempotency_key="same")

    assert again.pk == first.pk and again.idempotent_replay and not first.idempotent_replay
    assert Order.objects.count() == 1 and OrderEvent.objects.count() == 1
    # the connection is usable after the failed INSERT
    assert services.order_create(account=account, data=BODY, idempotency_key="other").pk

"""PostgreSQL itself keeps order events append-only (a trigger from a migration)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from orders import lifecycle
from orders.models import OrderEvent


@pytest.mark.django_db
def test_update_of_an_event_fails_in_postgresql(account, order_factory):
    order = order_factory(account, state="NEW")
    lifecycle.transition(order, "PENDING_CANCEL", actor="api", reason="cancel")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        OrderEvent.objects.filter(order=order).update(reason="rewritten history")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE orders_orderevent SET actor = 'operator'")
    assert set(OrderEvent.objects.values_list("reason", flat=True)) == {"fixture", "cancel"}


@pytest.mark.django_db
def test_delete_of_an_event_fails_in_postgresql(account, order_factory):
    order = order_factory(account, state="NEW")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        OrderEvent.objects.filter(order=order).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM orders_orderevent")
    assert OrderEvent.objects.filter(order=order).count() == 1


@pytest.mark.django_db(transaction=True)
def test_truncate_fails_unless_the_session_allows_it(account, order_factory):
    order_factory(account, state="NEW")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL orders.allow_event_truncate = 'off'")
        cursor.execute("TRUNCATE orders_orderevent CASCADE")
    assert OrderEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_test_runners_flush_still_empties_the_table(account, order_factory):
    order_factory(account, state="NEW")
    assert OrderEvent.objects.count() == 1
    call_command("flush", interactive=False, verbosity=0)
    assert OrderEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_after_a_flush_starts_empty():
    assert OrderEvent.objects.count() == 0

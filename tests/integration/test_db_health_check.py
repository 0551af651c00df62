"""The connection health check (trading/db/base.py) against the real PostgreSQL: a live idle
connection passes without a round trip, one PostgreSQL dropped is replaced before it is used,
and anything unexpected on the socket is left to Django's `SELECT 1`."""

from __future__ import annotations

import time

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

from trading.db.base import _has_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn():
    """A connection of its own (not the test's transaction), health checks on as in production."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    assert wrapper.health_check_enabled
    yield wrapper
    wrapper.close()


@pytest.fixture
def select_one(monkeypatch):
    """Counts Django's own check (a SELECT 1 round trip); the check still runs."""
    calls = []
    original = DjangoWrapper.is_usable

    def spy(self):
        calls.append(self.alias)
        return original(self)

    monkeypatch.setattr(DjangoWrapper, "is_usable", spy)
    return calls


def backend_pid(conn) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_live_idle_connection_is_usable_without_a_round_trip(conn, select_one):
    backend_pid(conn)
    assert conn.is_usable()
    assert select_one == []


def test_a_connection_postgresql_dropped_is_unusable(conn, select_one):
    terminate(backend_pid(conn))
    # the server's goodbye reaches the socket shortly after the backend exits
    wait_until(lambda: select_one or not conn.is_usable())
    assert not conn.is_usable()
    assert select_one, "the dropped connection went to Django's SELECT 1"


def test_a_dropped_connection_is_replaced_before_the_next_requests_first_query(conn):
    first = backend_pid(conn)
    terminate(first)
    wait_until(lambda: not conn.is_usable())
    # what Django does around every request (and trading/celery_db.py around every task)
    conn.close_if_unusable_or_obsolete()
    after = backend_pid(conn)  # the health check runs before this query: no error
    assert after != first


def test_anything_waiting_on_the_socket_goes_to_the_full_check(conn, select_one):
    with conn.cursor() as cursor:
        cursor.execute("LISTEN health_check_test")  # autocommit: listening from now on
    notifier = connections.create_connection("default")
    try:
        with notifier.cursor() as cursor:
            cursor.execute("NOTIFY health_check_test")
        wait_until(lambda: _has_input(conn.connection.fileno()))
        assert conn.is_usable()  # a notification is not a dropped connection
        assert select_one, "a readable socket went to Django's SELECT 1"
    finally:
        notifier.close()


def test_a_connection_inside_a_transaction_goes_to_the_full_check(conn, select_one):
    conn.set_autocommit(False)
    try:
        backend_pid(conn)  # opens the transaction
        assert conn.is_usable()
        assert select_one
    finally:
        conn.rollback()
        conn.set_autocommit(True)

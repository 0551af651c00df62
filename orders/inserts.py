"""A new order and its first event, written by one SQL statement.

`Order.objects.create` + `OrderEvent.objects.create` inside `transaction.atomic()` cost four
round trips to PostgreSQL (BEGIN, two INSERTs, COMMIT) and the ORM compiled both INSERTs on
every request (about a fifth of an accepted order's CPU). Here the two INSERTs are one
statement (`WITH o AS (INSERT order RETURNING id) INSERT event SELECT ... FROM o`), whose SQL
Django's own compiler wrote once per process; each request only converts its values with the
model fields' own `get_db_prep_save`. Outside a transaction the statement is its own
transaction (autocommit: one round trip, atomic by itself); inside one it runs in a savepoint,
so a failed INSERT (a repeated idempotency key) leaves the caller's transaction usable.

Model save signals are not sent for these rows (nothing listens for Order/OrderEvent saves).
"""

from __future__ import annotations

from functools import cache

from django.db import connections, models, transaction
from django.db.models.sql import InsertQuery

from orders.models import Order, OrderEvent


def _fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _insert_sql(model, objs, connection) -> str:
    """Django's INSERT for `model` (all columns but the key), placeholders and casts included."""
    query = InsertQuery(model)
    query.insert_values(_fields(model), objs)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = None
    ((sql, _params),) = compiler.as_sql()
    return sql


@cache
def _statement(alias: str) -> str:
    connection = connections[alias]
    order_sql = _insert_sql(Order, [Order(failover_venues=[])], connection)
    event_sql = _insert_sql(OrderEvent, [OrderEvent()], connection)
    # INSERT INTO "orders_orderevent" (cols) VALUES (%s, ...)  ->  ... SELECT o.id, %s, ... FROM o
    head, _, values = event_sql.partition(" VALUES (")
    placeholders = values.removesuffix(")").split(", ")
    assert len(placeholders) == len(_fields(OrderEvent)), event_sql
    order_at = [f.attname for f in _fields(OrderEvent)].index("order_id")
    placeholders[order_at] = "o.id"
    quote = connection.ops.quote_name
    # Only Django's compiled SQL and the models' own names: no value is formatted into it.
    select = f"SELECT {', '.join(placeholders)} FROM o RETURNING {quote('order_id')}"  # noqa: S608
    return f"WITH o AS ({order_sql} RETURNING {quote('id')}) {head} {select}"


def _params(obj, connection, skip: str | None = None) -> list:
    values = []
    for field, text in _converters(type(obj), skip):
        value = getattr(obj, field.attname)
        # None is NULL for every field here; a str is itself for a plain text column
        if value is not None and not (text and type(value) is str):
            value = field.get_db_prep_save(value, connection)
        values.append(value)
    return values


@cache
def _converters(model, skip: str | None) -> list[tuple]:
    plain = (models.CharField, models.TextField)
    return [(f, type(f) in plain) for f in _fields(model) if f.attname != skip]


def order_insert_with_event(order: Order, event: OrderEvent) -> Order:
    """INSERTs `order` and `event` (its order_id set from the new row) in one statement; sets
    order.pk and event.order_id. IntegrityError as Order.objects.create would raise it."""
    alias = "default"
    connection = connections[alias]
    params = _params(order, connection) + _params(event, connection, skip="order_id")
    if connection.in_atomic_block:
        with transaction.atomic(using=alias):
            order_id = _execute(connection, _statement(alias), params)
    else:
        order_id = _execute(connection, _statement(alias), params)
    order.pk = event.order_id = order_id
    for obj in (order, event):
        obj._state.adding, obj._state.db = False, alias
    return order


def _execute(connection, sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]

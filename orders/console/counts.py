"""Counts that stay fast on a table of millions: PostgreSQL's own estimates where the table is
big, exact counts where an index makes them cheap or the table is small."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model

# Below this many rows (PostgreSQL's estimate) an exact count is cheap enough to just run.
EXACT_BELOW = 50_000


def table_estimate(model: type[Model]) -> int | None:
    """pg_class.reltuples: the planner's row count (None before the first ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def value_frequencies(model: type[Model], column: str) -> dict[str, float]:
    """pg_stats' most common values of one column and the share of rows each holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_vals::text::text[], most_common_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = %s AND attname = %s",
            [model._meta.db_table, column],
        )
        row = cursor.fetchone()
    if not row or row[0] is None:
        return {}
    return {value: float(freq) for value, freq in zip(row[0], row[1], strict=False)}

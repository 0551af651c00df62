"""Per venue API: its circuit breaker, live from reliability's shared state (Redis)."""

from __future__ import annotations

from datetime import UTC, datetime

from reliability.breaker import all_breakers


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts else None


def venue_overview() -> list[dict]:
    """One row per venue API, in settings.VENUE_APIS order (Redis only, no SQL)."""
    rows = []
    for venue_api, snap in all_breakers().items():
        rows.append(
            {
                "venue_api": venue_api,
                "breaker": {
                    **snap,
                    "opened": _when(snap["opened_at"]),
                    "retry": _when(snap["retry_at"]),
                },
            }
        )
    return rows

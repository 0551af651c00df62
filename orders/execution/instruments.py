"""Instrument sync: each venue API's own instrument list copied into the Instrument table.

Run at start-up (`manage.py sync_instruments`, and a task queued when a worker starts) and on
beat. A row the venue lists is created or updated; a row of that venue API it no longer lists,
or whose expiry has passed, is deactivated (delivery contracts come and go with their expiry).
Rows are never deleted: orders keep pointing at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from django.utils import timezone

from exchanges.types import InstrumentInfo
from orders.models import Instrument
from orders.services_instruments import instrument_sync

log = structlog.get_logger(__name__)

_COPIED = (
    "symbol",
    "base",
    "quote",
    "settle",
    "expiry",
    "tick_size",
    "step_size",
    "min_qty",
    "min_notional",
    "contract_size",
    "max_qty",
)


@dataclass
class SyncReport:
    venue_api: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.venue_api}: {len(self.created)} new, {len(self.updated)} updated, "
            f"{len(self.deactivated)} deactivated"
        )


def instruments_sync(*, venue_api: str, now: datetime | None = None) -> SyncReport:
    """Loads the venue API's instruments (raises the adapter's VenueError if unreachable)."""
    from exchanges.registry import adapter_for

    infos = adapter_for(venue_api).instruments()
    return instruments_store(venue_api=venue_api, infos=infos, now=now)


def instruments_store(
    *, venue_api: str, infos: list[InstrumentInfo], now: datetime | None = None
) -> SyncReport:
    """Stores the venue API's tradable instruments (orders.services_instruments) and reports."""
    now = now or timezone.now()
    before = {
        row.venue_symbol: _rules(row) for row in Instrument.objects.filter(venue_api=venue_api)
    }
    listed = [
        info
        for info in infos
        if info.venue_api == venue_api and info.active and not _expired(info.expiry, now)
    ]
    instrument_sync(venue_api=venue_api, infos=listed)
    report = SyncReport(venue_api)
    for row in Instrument.objects.filter(venue_api=venue_api).order_by("venue_symbol"):
        old = before.get(row.venue_symbol)
        if old is None:
            report.created.append(row.venue_symbol)
        elif old["active"] and not row.active:
            report.deactivated.append(row.venue_symbol)
        elif old != _rules(row):
            report.updated.append(row.venue_symbol)
    log.info(
        "instruments_synced",
        venue=venue_api,
        created=len(report.created),
        updated=len(report.updated),
        deactivated=len(report.deactivated),
    )
    return report


def _rules(row: Instrument) -> dict:
    return {name: getattr(row, name) for name in (*_COPIED, "market_type", "active")}


def _expired(expiry: datetime | None, now: datetime) -> bool:
    return expiry is not None and expiry <= now

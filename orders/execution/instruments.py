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
from django.db import IntegrityError, transaction
from django.utils import timezone

from exchanges.types import InstrumentInfo
from orders.models import Instrument
from orders.models.instruments import venue_of

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
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.venue_api}: {len(self.created)} new, {len(self.updated)} updated, "
            f"{len(self.deactivated)} deactivated, {len(self.skipped)} skipped"
        )


def instruments_sync(*, venue_api: str, now: datetime | None = None) -> SyncReport:
    """Loads the venue API's instruments (raises the adapter's VenueError if unreachable)."""
    from exchanges.registry import adapter_for

    infos = adapter_for(venue_api).instruments()
    return instruments_store(venue_api=venue_api, infos=infos, now=now)


def instruments_store(
    *, venue_api: str, infos: list[InstrumentInfo], now: datetime | None = None
) -> SyncReport:
    now = now or timezone.now()
    report = SyncReport(venue_api)
    listed = {
        info.venue_symbol: info
        for info in infos
        if info.venue_api == venue_api and info.active and not _expired(info.expiry, now)
    }
    with transaction.atomic():
        # Deactivate first, so a re-listed unified symbol never meets its old active row.
        gone = Instrument.objects.filter(venue_api=venue_api, active=True).exclude(
            venue_symbol__in=list(listed)
        )
        report.deactivated = sorted(gone.values_list("venue_symbol", flat=True))
        gone.update(active=False, refreshed_at=now)
        existing = {i.venue_symbol: i for i in Instrument.objects.filter(venue_api=venue_api)}
        for venue_symbol, info in sorted(listed.items()):
            _upsert(existing.get(venue_symbol), info, now, report)
    log.info(
        "instruments_synced",
        venue=venue_api,
        created=len(report.created),
        updated=len(report.updated),
        deactivated=len(report.deactivated),
        skipped=len(report.skipped),
    )
    return report


def _upsert(row: Instrument | None, info: InstrumentInfo, now, report: SyncReport) -> None:
    values = {name: getattr(info, name) for name in _COPIED}
    values["market_type"] = info.market_type.value
    if row is None:
        row = Instrument(
            venue=venue_of(info.venue_api), venue_api=info.venue_api, venue_symbol=info.venue_symbol
        )
        target = report.created
    else:
        changed = not row.active or any(getattr(row, k) != v for k, v in values.items())
        target = report.updated if changed else None
    for name, value in values.items():
        setattr(row, name, value)
    row.active = True
    row.refreshed_at = now
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # another active row of this venue has the same unified symbol
        log.warning("instrument_symbol_clash", venue_symbol=info.venue_symbol, symbol=info.symbol)
        report.skipped.append(info.venue_symbol)
        return
    if target is not None:
        target.append(info.venue_symbol)


def _expired(expiry: datetime | None, now: datetime) -> bool:
    return expiry is not None and expiry <= now

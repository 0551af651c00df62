"""Writes of instruments: a venue's InstrumentInfo list copied into the Instrument table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from exchanges.types import InstrumentInfo
from orders.instrument_cache import forget_instruments
from orders.models import Instrument
from orders.models.instruments import venue_of


@transaction.atomic
def instrument_upsert(*, info: InstrumentInfo) -> Instrument:
    """Creates or refreshes one instrument (keyed by venue API and venue symbol)."""
    values = {**asdict(info), "venue": venue_of(info.venue_api), "refreshed_at": timezone.now()}
    values["market_type"] = str(values["market_type"])
    if values["active"]:
        # A unified symbol has one active row per venue: a relisted/renamed contract takes over.
        Instrument.objects.filter(venue=values["venue"], symbol=info.symbol, active=True).exclude(
            venue_api=info.venue_api, venue_symbol=info.venue_symbol
        ).update(active=False)
        transaction.on_commit(forget_instruments)
    instrument, _created = Instrument.objects.update_or_create(
        venue_api=info.venue_api, venue_symbol=info.venue_symbol, defaults=values
    )
    return instrument


@transaction.atomic
def instrument_sync(*, venue_api: str, infos: Iterable[InstrumentInfo]) -> list[Instrument]:
    """Upserts a venue API's full list; its instruments missing from it become inactive."""
    rows = [instrument_upsert(info=info) for info in infos]
    seen = [row.pk for row in rows]
    Instrument.objects.filter(venue_api=venue_api, active=True).exclude(pk__in=seen).update(
        active=False, refreshed_at=timezone.now()
    )
    return rows

"""Active instruments by (venue, unified symbol), kept in each web process for a few seconds.

Accepting an order reads its instrument's rules (tick, step, minimums); they change a few times a
day (beat's instrument sync), orders arrive hundreds of times a second. A row read here is reused
for settings.INSTRUMENT_CACHE_SECONDS (0 turns the cache off). A save or delete of an Instrument
in this process, and the instrument sync services, drop the whole cache at once; a change made
by another process (the worker's sync) is seen within the lifetime. Meanwhile an order for a
just-delisted instrument is accepted and then refused by the venue (REJECTED, not a 400).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from orders.models import Instrument

_entries: dict[tuple[str, str], tuple[float, Instrument | None]] = {}
clock: Callable[[], float] = time.monotonic  # replaced in tests


def active_instrument(venue: str, symbol: str) -> Instrument | None:
    """The active instrument with this unified symbol on this venue, or None."""
    key = (venue, symbol)
    now = clock()
    entry = _entries.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]
    instrument = Instrument.objects.filter(venue=venue, symbol=symbol, active=True).first()
    ttl = settings.INSTRUMENT_CACHE_SECONDS
    if ttl > 0 and instrument is not None:  # unknown symbols are not kept (no unbounded growth)
        _entries[key] = (now + ttl, instrument)
    return instrument


def forget_instruments(*_args, **_kwargs) -> None:
    """Drops every cached instrument (also a signal receiver)."""
    _entries.clear()


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(forget_instruments, sender=Instrument, dispatch_uid="instrument_cache_save")
    post_delete.connect(
        forget_instruments, sender=Instrument, dispatch_uid="instrument_cache_delete"
    )

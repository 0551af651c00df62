"""The venue's clock as seen from here: local time plus a measured offset.

Binance refuses a signed request whose `timestamp` is more than recvWindow behind its own time
or 1 s ahead of it (-1021). The adapter measures the offset from GET /time (assuming the server
read its clock half-way through the round trip), re-measures every `max_age` seconds and after
every -1021, and stamps requests with now_ms(). A -1021 answer also corrects the offset at once
from its HTTP Date header, so the very next attempt is already inside the window. The local clock is injectable so tests control
time without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime


class ServerClock:
    def __init__(self, *, clock: Callable[[], float] = time.time, max_age: float = 300.0):
        self._clock = clock
        self._max_age = max_age
        self._lock = threading.Lock()
        self.offset_ms = 0.0  # server time minus local time
        self.synced_at: float | None = None

    def local(self) -> float:
        return self._clock()

    def needs_sync(self) -> bool:
        synced = self.synced_at
        return synced is None or self._clock() - synced >= self._max_age

    def invalidate(self) -> None:
        with self._lock:
            self.synced_at = None

    def record(self, *, server_ms: int, sent_at: float, received_at: float) -> None:
        midpoint_ms = (sent_at + received_at) / 2 * 1000
        with self._lock:
            self.offset_ms = server_ms - midpoint_ms
            self.synced_at = received_at

    def adopt_date_header(self, date: str | None) -> bool:
        """Coarse correction from a response's HTTP Date (whole seconds, so the server's clock
        is in [D, D+1)). Stamping requests at D keeps them at most ~1 s behind and never ahead
        of the server: inside Binance's window (< server + 1 s, >= server - recvWindow). The
        next call re-measures precisely from /time."""
        if not date:
            return False
        try:
            server_s = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return False
        with self._lock:
            self.offset_ms = server_s * 1000 - self._clock() * 1000
            self.synced_at = None
        return True

    def now_ms(self) -> int:
        return int(self._clock() * 1000 + self.offset_ms)

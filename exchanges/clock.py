"""The venue's clock as seen from here: local time plus a measured offset.

Binance refuses a signed request whose `timestamp` is more than recvWindow behind its own time
or 1 s ahead of it (-1021). The adapter measures the offset from GET /time (assuming the server
read its clock half-way through the round trip), re-measures every `max_age` seconds and after
every -1021, and stamps requests with now_ms(). The local clock is injectable so tests control
time without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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

    def now_ms(self) -> int:
        return int(self._clock() * 1000 + self.offset_ms)

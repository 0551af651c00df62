"""The clock, sleep and randomness every waiting part of the reliability layer uses.

Production uses wall-clock time (breaker and budget timestamps are shared between processes
through Redis, so a monotonic clock would mean nothing there). Tests swap in a fake clock whose
sleep advances time, so nothing ever really waits for a recovery timeout or a backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Runtime:
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


_current = Runtime()


def runtime() -> Runtime:
    return _current


@contextmanager
def use_runtime(**overrides) -> Iterator[Runtime]:
    """Temporarily replace clock / sleep / rng (tests, benchmarks)."""
    global _current
    previous = _current
    _current = replace(previous, **overrides)
    try:
        yield _current
    finally:
        _current = previous

"""The per-account active-orders cache (Redis through Django's cache).

Keys are versioned by a per-account generation token: every transition replaces the token
(on commit), so a reader that loaded the database before the change can only write to a key that
nobody reads any more. When Redis is down every call here degrades to a miss (the cache ignores
connection errors) and the caller serves from PostgreSQL.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache

_GENERATION = "orders:active:gen:{account_id}"
_DATA = "orders:active:{account_id}:{generation}"


def active_orders_invalidate(*, account_id: int) -> None:
    cache.set(_GENERATION.format(account_id=account_id), uuid.uuid4().hex, timeout=None)


def active_orders_generation(*, account_id: int) -> str | None:
    """The current generation, created if missing; None when Redis is unreachable."""
    key = _GENERATION.format(account_id=account_id)
    generation = cache.get(key)
    if generation is None:
        cache.add(key, uuid.uuid4().hex, timeout=None)
        generation = cache.get(key)
    return generation


def active_orders_cached(*, account_id: int, generation: str) -> dict | None:
    return cache.get(_DATA.format(account_id=account_id, generation=generation))


def active_orders_store(*, account_id: int, generation: str, value: dict, ttl: int) -> None:
    cache.set(_DATA.format(account_id=account_id, generation=generation), value, timeout=ttl)

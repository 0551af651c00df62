"""The per-account active-orders cache (Redis through Django's cache).

The cached answer is stored with the generation it was read under; a per-account generation
token is replaced on every transition (on commit), so an answer read from the database before
a change carries an old generation and is never served after it. A read costs one round trip
(generation and answer fetched together). When Redis is down every call here degrades to a miss
(the cache ignores connection errors) and the caller serves from PostgreSQL.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache

_GENERATION = "orders:active:gen:{account_id}"
_DATA = "orders:active:{account_id}"


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


def active_orders_lookup(*, account_id: int) -> tuple[str | None, dict | None]:
    """(current generation, the answer cached under it or None); generation None when Redis is
    unreachable."""
    gen_key = _GENERATION.format(account_id=account_id)
    data_key = _DATA.format(account_id=account_id)
    found = cache.get_many([gen_key, data_key])
    generation = found.get(gen_key)
    if generation is None:
        return active_orders_generation(account_id=account_id), None
    entry = found.get(data_key)
    if isinstance(entry, dict) and entry.get("generation") == generation:
        return generation, entry["value"]
    return generation, None


def active_orders_store(*, account_id: int, generation: str, value: dict, ttl: int) -> None:
    entry = {"generation": generation, "value": value}
    cache.set(_DATA.format(account_id=account_id), entry, timeout=ttl)

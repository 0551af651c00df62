"""The per-account active-orders cache, kept in Redis (the cache's database) as raw entries.

    trading:orders:active:gen:<account>  the generation: a token replaced on every transition
                                          (on commit, orders/lifecycle.py)
    trading:orders:active:<account>      the generation it was read under (32 characters), then
                                          the answer as rendered JSON bytes, served as they are

An answer read from the database before a change carries an old generation and is never served
after it. The entries are plain strings so that one Lua script can read them together with the
API key and the throttle (orders/active_read.py): a cached read costs one round trip. When Redis
is unreachable every call here degrades to a miss and the caller serves from PostgreSQL.
"""

from __future__ import annotations

import uuid

import redis
import structlog

log = structlog.get_logger(__name__)

GENERATION = "trading:orders:active:gen:"
DATA = "trading:orders:active:"
TOKEN_LENGTH = 32  # uuid4().hex


def client():
    """The cache's Redis client (its pool and socket timeouts)."""
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def new_generation() -> str:
    return uuid.uuid4().hex


def active_orders_invalidate(*, account_id: int) -> None:
    try:
        client().set(f"{GENERATION}{account_id}", new_generation())
    except redis.RedisError as exc:
        # The cached answer then lives until its TTL (ACTIVE_ORDERS_CACHE_SECONDS) at most.
        log.warning("active_cache_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])


def active_orders_lookup(*, account_id: int) -> tuple[str | None, bytes | None]:
    """(current generation, the answer cached under it or None); generation None when Redis is
    unreachable. One round trip when the generation exists."""
    try:
        found_generation, entry = client().mget(f"{GENERATION}{account_id}", f"{DATA}{account_id}")
        if found_generation is None:
            return _create_generation(account_id), None
    except redis.RedisError as exc:
        log.warning("active_cache_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
        return None, None
    return found_generation.decode(), entry_answer(found_generation, entry)


def entry_answer(generation: bytes, entry: bytes | None) -> bytes | None:
    """The answer in a data entry if it was read under this generation."""
    if entry is not None and entry[:TOKEN_LENGTH] == generation:
        return entry[TOKEN_LENGTH:]
    return None


def _create_generation(account_id: int) -> str | None:
    key = f"{GENERATION}{account_id}"
    connection = client()
    connection.set(key, new_generation(), nx=True)
    found = connection.get(key)
    return found.decode() if found is not None else None


def active_orders_store(*, account_id: int, generation: str, value: bytes, ttl: int) -> None:
    if len(generation) != TOKEN_LENGTH:
        raise ValueError(f"a generation is {TOKEN_LENGTH} characters: {generation!r}")
    try:
        client().set(f"{DATA}{account_id}", generation.encode() + value, ex=ttl)
    except redis.RedisError as exc:
        log.warning("active_cache_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])

"""The active-orders cache: one Redis round trip per read, and an answer read before a change
is never served after it (it carries the generation it was read under)."""

from __future__ import annotations

import pytest

from orders import cache

pytestmark = pytest.mark.django_db


def test_a_cached_answer_is_found_in_one_round_trip(redis_trips):
    generation, found = cache.active_orders_lookup(account_id=7)
    assert generation and found is None
    cache.active_orders_store(account_id=7, generation=generation, value=b"v1", ttl=30)
    redis_trips.clear()
    assert cache.active_orders_lookup(account_id=7) == (generation, b"v1")
    assert len(redis_trips.sent) == 1


def test_an_answer_read_before_a_change_is_never_served_after_it():
    before, _ = cache.active_orders_lookup(account_id=7)
    cache.active_orders_invalidate(account_id=7)  # a transition commits meanwhile
    cache.active_orders_store(account_id=7, generation=before, value=b"stale", ttl=30)
    after, found = cache.active_orders_lookup(account_id=7)
    assert after != before and found is None
    cache.active_orders_store(account_id=7, generation=after, value=b"fresh", ttl=30)
    assert cache.active_orders_lookup(account_id=7) == (after, b"fresh")
    assert cache.active_orders_lookup(account_id=8)[1] is None  # per account

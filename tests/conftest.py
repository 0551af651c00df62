"""Shared fixtures. Every test runs against the real PostgreSQL and Redis that `make test`
starts (DATABASE_URL, REDIS_URL); fixtures of each area live in tests/fixtures/<area>.py."""

from __future__ import annotations

import glob
import os

import pytest

pytest_plugins = [
    f"tests.fixtures.{os.path.basename(path)[:-3]}"
    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "fixtures", "*.py")))
    if not path.endswith("__init__.py")
]


@pytest.fixture(autouse=True)
def _restore_health_registry():
    """Tests may register or unregister health checks; the app's own are back afterwards."""
    from monitoring import health

    saved = dict(health._REGISTRY)
    yield
    with health._REGISTRY_LOCK:
        health._REGISTRY.clear()
        health._REGISTRY.update(saved)


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with empty Redis databases (cache and shared reliability state)."""
    from django.core.cache import cache

    from monitoring.redis import state_client

    try:
        state_client().flushdb()
        cache.clear()
    except Exception:
        pass
    yield

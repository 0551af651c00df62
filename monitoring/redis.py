"""Shared Redis clients (connection pools are per process, created on first use)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


@cache
def state_client() -> redis.Redis:
    """Redis for shared reliability state (breakers, rate budgets, heartbeats)."""
    return redis.Redis.from_url(
        settings.REDIS_STATE_URL,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
        decode_responses=True,
        # One quick reconnect (a connection gone stale when Redis restarted), never redis-py's
        # default of 10 backed-off retries: a dead Redis must fail in milliseconds so breakers
        # and budgets fall back to their local state at once.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
    )


@cache
def broker_client() -> redis.Redis:
    """Redis of the Celery broker (queue lengths for the worker's metrics endpoint)."""
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )

"""Requests per API key, shared by every web process through Redis.

The same sliding log as DRF's SimpleRateThrottle (a request is allowed while fewer than N were
made in the last period; Retry-After is computed the same way), but kept in a Redis sorted set
and checked and recorded by one Lua call: one round trip per request instead of a read and a
write of the pickled history. Redis unreachable: requests are allowed (as DRF's cache-backed
throttle does when the cache ignores errors).
"""

from __future__ import annotations

import uuid

import redis
import structlog
from rest_framework.throttling import SimpleRateThrottle

log = structlog.get_logger(__name__)

# KEYS[1]: the key's log; ARGV: now, period (s), limit, a unique member.
# -> {1} allowed and recorded | {0, count, oldest} refused
_SCRIPT = """
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, oldest[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
return {1}
"""
_scripts: dict[int, object] = {}


def _client():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def throttle_log_name(ident) -> str:
    """The Redis key of an API key's request log (orders/active_read.py writes it too)."""
    return f"trading:{ApiKeyRateThrottle.cache_format % {'scope': ApiKeyRateThrottle.scope, 'ident': ident}}"


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (shared by every web process through Redis)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = getattr(request.user, "key", None)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        try:
            client = _client()
            script = _scripts.get(id(client))
            if script is None:
                script = _scripts[id(client)] = client.register_script(_SCRIPT)
            reply = script(
                keys=[f"trading:{self.key}"],  # = throttle_log_name(key id)
                args=[repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex],
            )
        except redis.RedisError as exc:
            log.warning("throttle_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
            return True
        if int(reply[0]) == 1:
            return True
        # what wait() reads: the oldest request in the log and how many it holds
        self.history = [float(reply[2])] * int(reply[1])
        return False

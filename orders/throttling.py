"""Requests per API key, shared by every web process through Redis.

The same sliding log as DRF's SimpleRateThrottle (a request is allowed while fewer than N were
made in the last period; Retry-After is computed the same way), but kept in a Redis sorted set
and checked and recorded by one Lua call: one round trip per request instead of a read and a
write of the pickled history. Redis unreachable: requests are allowed (as DRF's cache-backed
throttle does when the cache ignores errors).

For a view with this throttle, authentication (orders/authentication.py) reads the cached API key
in the same call, so an API request's key and throttle cost one round trip, not two. The
verdict is then taken before the view's permissions are checked: a request refused for its
scope (403) or for a revoked key (401) still counts toward its key's rate. A key not in the
cache costs the request nothing there; the throttle then runs after the permissions, as DRF's.
The log is kept per key digest, so the call needs nothing the key's entry holds.
"""

from __future__ import annotations

import uuid

import redis
import structlog
from rest_framework.throttling import SimpleRateThrottle

log = structlog.get_logger(__name__)

# KEYS[1]: the key's log; KEYS[2] (optional): the key's cached entry, read in the same call.
# ARGV: now, period, limit, a unique member.
# -> {1, entry} allowed and recorded | {0, count, oldest, entry} refused (not recorded)
#  | {} KEYS[2] given and not cached: nothing recorded (authentication asks PostgreSQL, then
#    the throttle runs on its own). A missing entry ends the reply early ({1}, {0, count, oldest}).
_SCRIPT = """
local entry = false
if KEYS[2] then
  entry = redis.call('GET', KEYS[2])
  if not entry then return {} end
end
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, oldest[2], entry}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
return {1, entry}
"""
_scripts: dict[int, object] = {}
# Where authentication leaves the verdict of the call that also read the key: (digest, reply).
VERDICT = "_api_key_throttle_verdict"


def _client():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def throttle_log_name(digest: str) -> str:
    """The Redis key of an API key's request log, by the key's digest (orders/active_read.py
    writes it too)."""
    return f"trading:{ApiKeyRateThrottle.cache_format % {'scope': ApiKeyRateThrottle.scope, 'ident': digest}}"


def check_and_record(log: str, now: float, period: int, limit: int, entry: str | None = None):
    """One round trip: the sliding-log check (recorded when allowed) and, with `entry`, the
    cached value under that Redis key. Raises redis.RedisError."""
    client = _client()
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_SCRIPT)
    keys = [log] if entry is None else [log, entry]
    return script(keys=keys, args=[repr(now), period, limit, uuid.uuid4().hex])


def throttle_for(view) -> ApiKeyRateThrottle | None:
    """The view's per-key throttle when it has one with a rate, else None."""
    for throttle in view.get_throttles() if view is not None else ():
        if isinstance(throttle, ApiKeyRateThrottle) and throttle.rate is not None:
            return throttle
    return None


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (shared by every web process through Redis)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = getattr(request.user, "key", None)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.digest}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        verdict = getattr(request, VERDICT, None)
        if verdict is not None and verdict[0] == request.user.key.digest:
            setattr(request, VERDICT, None)  # decided once, with the key's lookup
            return self.accept_reply(verdict[1])
        try:
            reply = check_and_record(
                f"trading:{self.key}", self.now, self.duration, self.num_requests
            )  # = throttle_log_name(digest)
        except redis.RedisError as exc:
            log.warning("throttle_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
            return True
        return self.accept_reply(reply)

    def accept_reply(self, reply) -> bool:
        if int(reply[0]) == 1:
            return True
        # what wait() reads: the oldest request in the log and how many it holds
        self.history = [float(reply[2])] * int(reply[1])
        return False

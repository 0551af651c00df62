"""GET /api/v1/orders/active in one Redis round trip, without DRF's per-request machinery.

One Lua script resolves the API key's account (the fast record orders/authentication.py keeps),
applies the per-key throttle (the same sliding log, in the same Redis key, as
orders/throttling.py) and returns the account's cached answer (orders/cache.py), already
rendered JSON bytes that are sent as they are. The request still passes through every
middleware (correlation id, the request's log line, Prometheus request metrics).

Whenever this path cannot answer a request exactly as the DRF view would, it returns None and
the DRF view (ActiveOrdersApi) serves it instead: another method, an Accept header other than
JSON, a missing or malformed Authorization header, a key the record does not know (unknown,
revoked, without the `read` scope, or just not cached yet: the record is written then, so the
next request is fast), a request over the throttle's limit (not recorded by the script, so DRF's
throttle refuses it with its 429), and Redis unreachable (served from PostgreSQL). On a cache
miss the answer is read from PostgreSQL here, under the generation the script returned.
"""

from __future__ import annotations

import uuid

import redis
from django.http import HttpResponse

from orders import authentication, selectors
from orders import cache as active_cache
from orders.models import Account
from orders.models.accounts import hash_key
from orders.throttling import ApiKeyRateThrottle, throttle_log_name

# KEYS[1]: the key's fast record. ARGV: now, period, limit (-1: no throttle), a unique member,
# a new generation (used when the account has none), the key's throttle log, the key prefixes
# of the touch marker, the generation and the answer, and the touch period (s).
# -> {0} key not in the record | {1} over the limit (not recorded)
#  | {2, key id, account id, generation, entry or false, 1 if last_used_at is due}
_SCRIPT = """
local record = redis.call('GET', KEYS[1])
if not record then return {0} end
local key, account = string.match(record, '^(%d+):(%d+)$')
if not key then return {0} end
local limit = tonumber(ARGV[3])
if limit >= 0 then
  local now, period, log = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[6]
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - period)
  if redis.call('ZCARD', log) >= limit then return {1} end
  redis.call('ZADD', log, now, ARGV[4])
  redis.call('PEXPIRE', log, math.ceil(period * 1000))
end
local touch = 0
if redis.call('SET', ARGV[7] .. key, 1, 'NX', 'EX', tonumber(ARGV[10])) then touch = 1 end
local generation_key = ARGV[8] .. account
local generation = redis.call('GET', generation_key)
if not generation then
  generation = ARGV[5]
  redis.call('SET', generation_key, generation)
end
return {2, key, account, generation, redis.call('GET', ARGV[9] .. account), touch}
"""
_scripts: dict[int, object] = {}
# Accept headers DRF answers with its JSON renderer as it is (orders/fast_accept.py too)
ACCEPTS_JSON = frozenset({None, "", "*/*", "application/json"})
_TAIL = {
    "cache": b',"source":"cache","next":null}',
    "database": b',"source":"database","next":null}',
}
# What DRF's view sends besides the body (APIView.default_response_headers).
_ALLOW = "GET, HEAD, OPTIONS"


def respond(answer: bytes, source: str) -> HttpResponse:
    """The response for a rendered answer (the DRF view sends the same)."""
    response = HttpResponse(answer + _TAIL[source], content_type="application/json")
    response["Allow"] = _ALLOW
    return response


def _throttle_args() -> tuple[float, int, int]:
    throttle = ApiKeyRateThrottle()  # reads the rate as DRF's throttle does (settings may change)
    if throttle.rate is None:
        return throttle.timer(), 1, -1
    return throttle.timer(), throttle.duration, throttle.num_requests


def serve(request, render) -> HttpResponse | None:
    """The response to GET /api/v1/orders/active, or None: the DRF view serves it."""
    meta = request.META
    if request.method != "GET" or meta.get("HTTP_ACCEPT") not in ACCEPTS_JSON:
        return None
    parts = meta.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    digest = hash_key(parts[1])
    now, period, limit = _throttle_args()
    try:
        reply = _run(digest, now, period, limit)
    except redis.RedisError:
        return None  # the DRF view serves it from PostgreSQL
    if reply[0] != 2:
        if reply[0] == 0:
            _remember(digest)
        return None
    _, key_id, account_id, generation, entry, touch = reply
    if touch:
        authentication.api_key_touch(int(key_id))
    answer = active_cache.entry_answer(generation, entry)
    if answer is not None:
        return respond(answer, "cache")
    account = Account(pk=int(account_id))
    answer = selectors.active_orders_read(
        account=account, render=render, generation=generation.decode()
    )
    return respond(answer, "database")


def _run(digest: str, now: float, period: int, limit: int) -> list:
    connection = active_cache.client()
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts[id(connection)] = connection.register_script(_SCRIPT)
    return script(
        keys=[authentication.FAST_RECORD + digest],
        args=[
            repr(now),
            period,
            limit,
            uuid.uuid4().hex,
            active_cache.new_generation(),
            throttle_log_name(digest),
            authentication.TOUCHED,
            active_cache.GENERATION,
            active_cache.DATA,
            int(authentication.TOUCH_EVERY.total_seconds()),
        ],
    )


def _remember(digest: str) -> None:
    key = authentication.api_key_by_digest(digest)
    if key is not None:
        authentication.api_key_remember(key)

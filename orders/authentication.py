"""`Authorization: Bearer <key>` authentication for the REST API."""

from __future__ import annotations

from datetime import timedelta

import redis
import structlog
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from orders.models import ApiKey
from orders.models.accounts import hash_key
from orders.throttling import VERDICT, check_and_record, throttle_for, throttle_log_name

# last_used_at is refreshed at most this often, so reads do not write on every request.
TOUCH_EVERY = timedelta(minutes=1)
# Known keys (with their account) are kept in Redis for this long, so a request reads one cache
# entry instead of querying PostgreSQL. Every change to a key or its account goes through a
# model save/delete or api_key_revoke, which drop the entry at once (and again on commit).
_CACHE_KEY = "auth:apikey:{digest}"
_CACHE_SECONDS = 60
# The same key for the one-round-trip read of active orders (orders/active_read.py): a plain
# "<key id>:<account id>" string a Lua script can read, kept only for an active key with the
# `read` scope, for _CACHE_SECONDS, and dropped together with the entry above. Its absence only
# sends a request the ordinary way (which refuses it, or puts the record back).
FAST_RECORD = "trading:auth:key:"
# Set for TOUCH_EVERY once a key's last_used_at was written (by the fast read, or here).
TOUCHED = "trading:auth:touched:"
# Where a lookup's result is left on the request: (digest, key or None). One lookup per request.
_LOOKED_UP = "_api_key_looked_up"

log = structlog.get_logger(__name__)


def api_key_by_digest(digest: str) -> ApiKey | None:
    """The key with this digest and its account, from the cache when it is there."""
    key = cache.get(_CACHE_KEY.format(digest=digest))
    if key is None:
        key = ApiKey.objects.select_related("account").filter(digest=digest).first()
        if key is not None:
            cache.set(_CACHE_KEY.format(digest=digest), key, timeout=_CACHE_SECONDS)
    return key


def _cached_and_throttled(request, digest: str) -> ApiKey | None:
    """The cached key, read by the view's throttle call (one round trip for both; the verdict
    is left on the request for the throttle), or None: not cached, no per-key throttle on the
    view, or Redis unreachable (the ordinary lookup follows; the throttle lets the request
    through without trying Redis again, as it would itself)."""
    looked_up = getattr(request, _LOOKED_UP, None)
    if looked_up is not None and looked_up[0] == digest:
        return looked_up[1]  # the fast accept path looked it up, then handed the request over
    context = getattr(request, "parser_context", None) or {}
    throttle = throttle_for(context.get("view"))
    if throttle is None:
        return None
    return cached_and_throttled(request, digest, throttle)


def cached_and_throttled(request, digest: str, throttle) -> ApiKey | None:
    """The cached key and `throttle`'s verdict on it in one round trip; both are left on the
    request, so the DRF view that may serve it afterwards neither asks nor records again.
    None: not cached (nothing recorded) or Redis unreachable (the verdict lets it through)."""
    name = cache.client.make_key(_CACHE_KEY.format(digest=digest))
    key = None
    try:
        reply = check_and_record(
            throttle_log_name(digest),
            throttle.timer(),
            throttle.duration,
            throttle.num_requests,
            entry=name,
        )
    except redis.RedisError as exc:
        # the throttle lets requests through without Redis: it need not try again
        log.warning("throttle_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
        setattr(request, VERDICT, (digest, [1]))
    else:
        if reply:  # else not cached: nothing was recorded
            setattr(request, VERDICT, (digest, reply))
            key = cache.client.decode(reply[1] if reply[0] == 1 else reply[3])
    setattr(request, _LOOKED_UP, (digest, key))
    return key


def touch(key: ApiKey) -> None:
    """Records a use of the key in PostgreSQL, at most once per TOUCH_EVERY."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        cache.set(_CACHE_KEY.format(digest=key.digest), key, timeout=_CACHE_SECONDS)


def forget_api_keys(*digests: str) -> None:
    """Drops cached keys now and once the current transaction commits (a request that read the
    old row meanwhile cannot put it back for longer than _CACHE_SECONDS)."""
    names = [_CACHE_KEY.format(digest=d) for d in digests]
    records = [FAST_RECORD + d for d in digests]
    if names:
        _forget(names, records)
        transaction.on_commit(lambda: _forget(names, records))


def _forget(names: list[str], records: list[str]) -> None:
    cache.delete_many(names)
    try:
        _redis().delete(*records)
    except redis.RedisError as exc:
        # Redis is unreachable: the records die with it or expire within _CACHE_SECONDS.
        log.warning("auth_cache_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])


def api_key_remember(key: ApiKey) -> None:
    """Writes the fast read's record of an active key with the `read` scope (one round trip)."""
    if not key.is_active or not key.has_scope("read"):
        return
    pipe = _redis().pipeline(transaction=False)
    pipe.set(FAST_RECORD + key.digest, f"{key.pk}:{key.account_id}", ex=_CACHE_SECONDS)
    if key.last_used_at is not None:
        left = TOUCH_EVERY - (timezone.now() - key.last_used_at)
        if left.total_seconds() >= 1:
            pipe.set(f"{TOUCHED}{key.pk}", 1, ex=int(left.total_seconds()), nx=True)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("auth_cache_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])


def api_key_touch(key_id: int) -> None:
    """Records a use of the key in PostgreSQL (the fast read does so once per TOUCH_EVERY)."""
    ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


class ApiClient:
    """request.user for API calls: the key and the account it belongs to."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.account = key.account
        self.account_id = key.account_id

    def has_scope(self, scope: str) -> bool:
        return self.key.has_scope(scope)

    def __str__(self) -> str:
        return f"api:{self.account.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed(
                "Use the header 'Authorization: Bearer <api key>'."
            )
        digest = hash_key(parts[1])
        key = _cached_and_throttled(request, digest)
        if key is None:
            key = api_key_by_digest(digest)
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        touch(key)
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


def _forget_key(sender, instance, **kwargs) -> None:
    forget_api_keys(instance.digest)


def _forget_account_keys(sender, instance, **kwargs) -> None:
    forget_api_keys(*ApiKey.objects.filter(account_id=instance.pk).values_list("digest", flat=True))


def connect_signals() -> None:
    """Called by OrdersConfig.ready(): every process that can change keys drops cached ones."""
    from django.db.models.signals import post_delete, post_save

    from orders.models import Account

    post_save.connect(_forget_key, sender=ApiKey, dispatch_uid="auth_forget_key_saved")
    post_delete.connect(_forget_key, sender=ApiKey, dispatch_uid="auth_forget_key_deleted")
    post_save.connect(_forget_account_keys, sender=Account, dispatch_uid="auth_forget_account")

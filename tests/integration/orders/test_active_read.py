"""GET /api/v1/orders/active in one Redis round trip (orders/active_read.py): the key, the throttle
and the cached answer from one Lua script, and every refusal, miss and outage still answered
exactly as the DRF view answers it."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from orders import authentication, lifecycle
from orders import cache as active_cache
from orders.models import ApiKey
from orders.services_accounts import api_key_revoke
from orders.throttling import throttle_log_name
from tests.fixtures.redis_trips import RoundTrips

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/orders/active"


def client(raw: str, **headers) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", **headers)
    return c


def redis():
    return active_cache.client()


def warm(api) -> None:
    """First request: the key's fast record is written (DRF serves it); second: the answer is
    cached; from the third on a request is served by the one-trip path from the cache."""
    for _ in range(2):
        assert api.get(URL).status_code == 200


def test_a_cached_read_costs_one_redis_round_trip_and_no_sql(api, order_factory, monkeypatch):
    order_factory(api.account, state="NEW")
    warm(api)
    trips = RoundTrips(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        response = api.get(URL)
    assert response.status_code == 200
    assert response.json()["source"] == "cache"
    assert trips.commands() == ["EVALSHA"]
    assert queries.captured_queries == []


def test_the_cached_bytes_are_what_the_drf_view_renders_from_postgresql(api, order_factory):
    order_factory(api.account, state="NEW")
    order_factory(api.account, state="PARTIALLY_FILLED", filled_quantity=Decimal("0.004"))
    warm(api)
    fast = api.get(URL)
    # the DRF view, reading PostgreSQL: no cached answer under the current generation
    active_cache.active_orders_invalidate(account_id=api.account.pk)
    request = APIRequestFactory().get(
        URL, HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"]
    )
    slow = resolve(URL).func.drf_view(request)
    assert fast.status_code == slow.status_code == 200
    assert json.loads(slow.content)["source"] == "database"
    # the same bytes but for where and when they were read
    as_of = re.compile(rb'"as_of":"[^"]+"')
    assert as_of.sub(b"", fast.content) == as_of.sub(b"", slow.content).replace(
        b'"source":"database"', b'"source":"cache"'
    )
    for header in ("Content-Type", "Allow"):
        assert fast[header] == slow[header]
    body = fast.json()
    assert list(body) == ["results", "truncated", "as_of", "source", "next"]
    assert [o["state"] for o in body["results"]] == ["PARTIALLY_FILLED", "NEW"]


def test_a_cache_miss_is_read_from_postgresql_and_cached(api, order_factory):
    order = order_factory(api.account, state="NEW")
    warm(api)
    redis().delete(f"{active_cache.DATA}{api.account.pk}")  # evicted, expired
    first = api.get(URL).json()
    assert first["source"] == "database"
    assert [o["id"] for o in first["results"]] == [order.pk]
    again = api.get(URL).json()
    assert again["source"] == "cache" and again["results"] == first["results"]


def test_an_answer_cached_under_another_generation_is_never_served(api, order_factory):
    order = order_factory(api.account, state="NEW")
    warm(api)
    gen = redis().get(f"{active_cache.GENERATION}{api.account.pk}")
    stale = b"0" * 32 + b'{"results":[],"truncated":false,"as_of":"2020-01-01T00:00:00+00:00"'
    assert gen != stale[:32]
    redis().set(f"{active_cache.DATA}{api.account.pk}", stale)
    body = api.get(URL).json()
    assert body["source"] == "database" and [o["id"] for o in body["results"]] == [order.pk]


def test_a_transition_shows_on_the_next_read(api, order_factory):
    order = order_factory(api.account, state="NEW")
    warm(api)
    lifecycle.transition(order, "FILLED", actor="worker", reason="filled")
    body = api.get(URL).json()
    assert body["source"] == "database" and body["results"] == []


def test_another_accounts_orders_never_come_through_the_cache(api, other_api, order_factory):
    mine = [order_factory(api.account, state="NEW").pk for _ in range(2)]
    theirs = [order_factory(other_api.account, state="NEW").pk for _ in range(3)]
    for _ in range(3):  # both accounts' answers cached, read in turns
        for caller, expected in ((api, mine), (other_api, theirs)):
            body = caller.get(URL).json()
            assert sorted(o["id"] for o in body["results"]) == sorted(expected)
    assert body["source"] == "cache"
    mine_cached = redis().get(f"{active_cache.DATA}{api.account.pk}")
    assert all(f'"id":{pk},'.encode() not in mine_cached for pk in theirs)


def test_a_revoked_key_is_refused_on_the_next_request(api):
    warm(api)
    api_key_revoke(key=api.key)
    response = api.get(URL)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert redis().get(authentication.FAST_RECORD + api.key.digest) is None


def test_a_key_losing_the_read_scope_or_deleted_is_refused_on_the_next_request(make_key):
    key, raw = make_key(account="desk", scopes=("read", "trade"))
    warm(client(raw))
    key.scopes = ["trade"]
    key.save()
    assert client(raw).get(URL).status_code == 403
    assert client(raw).get(URL).status_code == 403  # and stays refused: no record for it
    key.scopes = ["read"]
    key.save()
    warm(client(raw))
    key.delete()  # the signal drops the record
    assert client(raw).get(URL).status_code == 401


def test_a_revocation_redis_never_heard_of_is_refused_once_the_record_expires(api):
    """Bound: a key revoked while its records could not be dropped (Redis unreachable) stays
    usable at most _CACHE_SECONDS, the life of the record."""
    warm(api)
    record = authentication.FAST_RECORD + api.key.digest
    assert 0 < redis().ttl(record) <= authentication._CACHE_SECONDS
    ApiKey.objects.filter(pk=api.key.pk).update(revoked_at=timezone.now())  # no signal: no drop
    assert api.get(URL).status_code == 200  # the record still says active
    # what the expiry of the record and of the DRF path's cached key (the same life) does
    redis().delete(record)
    cache.delete(authentication._CACHE_KEY.format(digest=api.key.digest))
    assert api.get(URL).status_code == 401


def test_unknown_malformed_and_missing_keys_are_refused_as_before():
    assert client("tk_unknown").get(URL).json()["error"]["code"] == "authentication_failed"
    malformed = APIClient()
    malformed.credentials(HTTP_AUTHORIZATION="Token a b")
    assert malformed.get(URL).status_code == 401
    response = APIClient().get(URL)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"


def test_a_non_json_accept_header_gets_drfs_answer(api):
    warm(api)
    assert api.get(URL, HTTP_ACCEPT="text/html").status_code == 406
    response = api.get(URL, HTTP_ACCEPT="application/json; indent=2")
    assert response.status_code == 200 and response.json()["results"] == []


def test_the_throttle_refuses_over_the_limit_and_shares_the_keys_log(make_key, three_per_minute):
    key, raw = make_key(account="desk")
    authentication.api_key_remember(key)  # the fast record exists from the first request on
    assert client(raw).get("/api/v1/account").status_code == 200  # the DRF path counts too
    assert [client(raw).get(URL).status_code for _ in range(3)] == [200, 200, 429]
    refused = client(raw).get(URL)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "throttled" and error["details"]["retry_after_seconds"] > 0
    assert int(refused["Retry-After"]) > 0
    assert redis().zcard(throttle_log_name(key.digest)) == 3  # refusals are not recorded
    _other, other_raw = make_key(account="desk")
    assert client(other_raw).get(URL).status_code == 200  # per key


def test_last_used_at_is_written_at_most_once_a_minute(api):
    warm(api)
    ApiKey.objects.filter(pk=api.key.pk).update(last_used_at=None)
    redis().delete(f"{authentication.TOUCHED}{api.key.pk}")
    with CaptureQueriesContext(connection) as first:
        assert api.get(URL).status_code == 200
    assert [q["sql"].split()[0] for q in first.captured_queries] == ["UPDATE"]
    assert ApiKey.objects.get(pk=api.key.pk).last_used_at is not None
    with CaptureQueriesContext(connection) as second:
        assert api.get(URL).status_code == 200
    assert second.captured_queries == []


def test_with_redis_down_it_is_served_from_postgresql(api, order_factory, redis_server):
    order = order_factory(api.account, state="NEW")
    warm(api)
    redis_server.stop()
    body = api.get(URL).json()
    assert body["source"] == "database" and [o["id"] for o in body["results"]] == [order.pk]
    redis_server.start()
    assert api.get(URL).json()["source"] == "database"  # Redis came back empty
    warm(api)
    assert api.get(URL).json()["source"] == "cache"


def test_under_gunicorn_it_keeps_the_correlation_id_log_line_and_metrics(
    api, order_factory, gunicorn_server
):
    import httpx

    order_factory(api.account, state="NEW")
    headers = {"Authorization": api._credentials["HTTP_AUTHORIZATION"]}
    before = gunicorn_server.requests_counted("order-active", "GET")
    for i in range(4):
        response = httpx.get(
            gunicorn_server.url + URL, headers={**headers, "X-Request-ID": f"fast-{i}"}, timeout=30
        )
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == f"fast-{i}"
        assert response.headers["X-Content-Type-Options"] == "nosniff"  # middleware still ran
    assert response.json()["source"] == "cache"
    line = gunicorn_server.wait_for_log(
        lambda ln: ln.get("event") == "http_request" and ln.get("correlation_id") == "fast-3"
    )
    assert line["path"] == URL and line["status"] == 200
    assert gunicorn_server.requests_counted("order-active", "GET") - before == 4

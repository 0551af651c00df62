"""POST /api/v1/orders through orders/fast_accept.py: every order it serves is answered exactly as
the DRF view answers it (status, headers, body, the stored order), every request it cannot
answer exactly is handed to the DRF view, and a request handed over after its key was looked up
is neither counted twice by the throttle nor looked up again.

Each case runs twice, with API_FAST_ACCEPT on and off (the DRF view alone), and the two answers
are compared once the values that differ per order (id, client order id, times) are set aside.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from orders import fast_accept
from orders.models import Order, OrderEvent
from orders.services_accounts import api_key_revoke
from orders.throttling import throttle_log_name
from tests.fixtures.orders import LIMIT_ORDER_BODY
from tests.fixtures.redis_trips import RoundTrips

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"
BODY = {**LIMIT_ORDER_BODY, "time_in_force": "GTC"}
PER_ORDER = {"id", "client_order_id", "created_at", "updated_at"}
STORED = [
    "venue",
    "venue_api",
    "instrument_id",
    "side",
    "type",
    "time_in_force",
    "quantity",
    "price",
    "state",
    "failover_venues",
    "request_fingerprint",
    "version",
]


@pytest.fixture
def served(monkeypatch, api):
    """Whether the fast path answered each request (True) or handed it to the DRF view, from
    the moment `api`'s key is in the cache (its first request is looked up in PostgreSQL and
    handed over: the fast path knows only cached keys)."""
    assert api.get("/api/v1/account").status_code == 200
    answers: list[bool] = []
    original = fast_accept.serve

    def spy(*args, **kwargs):
        response = original(*args, **kwargs)
        answers.append(response is not None)
        return response

    monkeypatch.setattr(fast_accept, "serve", spy)
    return answers


def shape(response) -> tuple:
    """What a client sees, without the values that differ per order or per request."""
    headers = {
        name: value
        for name, value in response.items()
        if name not in ("X-Request-ID", "Content-Length", "Retry-After")
    }
    if "Location" in headers:
        headers["Location"] = re.sub(r"/\d+$", "/<id>", headers["Location"])
    try:
        body = json.loads(response.content)
    except ValueError:
        body = response.content
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in PER_ORDER}
        body.get("error", {}).get("details", {}).pop("retry_after_seconds", None)
    return response.status_code, headers, body


def both(settings, send) -> tuple:
    """send(tag) with the fast path on, then off: both responses."""
    settings.API_FAST_ACCEPT = True
    fast = send("fast")
    settings.API_FAST_ACCEPT = False
    drf = send("drf")
    settings.API_FAST_ACCEPT = True
    return fast, drf


def post(client: APIClient, body, *, key: str | None = None, raw: bool = False, **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    if raw:  # bytes or text sent as they are
        extra.setdefault("content_type", "application/json")
        return client.post(URL, body, **extra)
    return client.post(URL, body, format="json", **extra)


def stored(order_id: int) -> dict:
    return Order.objects.filter(pk=order_id).values(*STORED).get()


ACCEPTED = {
    "limit": BODY,
    "limit, no time in force (GTC)": {k: v for k, v in BODY.items() if k != "time_in_force"},
    "limit IOC, empty failover": {**BODY, "time_in_force": "IOC", "failover": []},
    "failover to bitmex": {**BODY, "failover": ["bitmex"]},
    "market": {
        **{k: v for k, v in BODY.items() if k not in ("price", "time_in_force")},
        "type": "market",
    },
    "market, nulls": {**BODY, "type": "market", "price": None, "time_in_force": None},
    "spot": {**BODY, "symbol": "BTC/USDT", "quantity": "0.001"},
    "sell, padded decimal": {**BODY, "side": "sell", "quantity": " 0.0100 "},
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_an_order_it_serves_gets_the_drf_views_answer_and_row(
    api, instruments, settings, served, body
):
    fast, drf = both(settings, lambda tag: post(api, body, key=f"{tag}-{uuid.uuid4()}"))

    assert served == [True]  # with the switch off it is not asked
    assert fast.status_code == 202, fast.content
    assert shape(fast) == shape(drf)
    assert fast["Location"].endswith(f"/api/v1/orders/{fast.json()['id']}")
    assert fast["Location"].startswith("http://testserver/")
    assert stored(fast.json()["id"]) == stored(drf.json()["id"])
    assert OrderEvent.objects.filter(order_id=fast.json()["id"]).count() == 1


def test_without_an_idempotency_key_too(api, instruments, settings, served):
    fast, drf = both(settings, lambda tag: post(api, BODY))
    assert served == [True] and fast.status_code == 202
    assert shape(fast) == shape(drf)
    assert "Idempotent-Replayed" not in fast


def test_a_repeat_and_a_reused_key_get_the_drf_views_answers(api, instruments, settings, served):
    first = post(api, BODY, key="repeat")

    replay, drf_replay = both(settings, lambda tag: post(api, BODY, key="repeat"))
    reused, drf_reused = both(
        settings, lambda tag: post(api, {**BODY, "price": "65001.5"}, key="repeat")
    )

    assert served == [True, True, True]  # with the switch off it is not asked
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == drf_replay.json() == first.json()
    assert shape(replay) == shape(drf_replay)
    assert reused.status_code == 422 and shape(reused) == shape(drf_reused)
    assert Order.objects.count() == 1


REFUSED_BY_THE_SERVICE = {
    "tick size": ({**BODY, "price": "65000.55"}, 400),
    "minimum notional": ({**BODY, "quantity": "0.001", "price": "100.0"}, 400),
    "unknown symbol": ({**BODY, "symbol": "NOPE/USDT:USDT"}, 400),
    "market with a time in force": ({**BODY, "type": "market", "price": None}, 400),
}


@pytest.mark.parametrize("body,status", REFUSED_BY_THE_SERVICE.values(), ids=REFUSED_BY_THE_SERVICE)
def test_an_order_the_service_refuses_gets_the_drf_views_error(
    api, instruments, settings, served, body, status
):
    fast, drf = both(settings, lambda tag: post(api, body, key=f"{tag}-{uuid.uuid4()}"))

    assert served == [True]  # with the switch off it is not asked
    assert fast.status_code == status, fast.content
    assert shape(fast) == shape(drf)
    assert fast["Content-Type"] == "application/json"
    assert Order.objects.count() == 0


def test_an_open_breaker_gets_the_drf_views_503(api, instruments, settings, served, fake_clock):
    from reliability.breaker import breaker_for

    breaker_for("binance.usdm").force_open(by="test", reason="outage")
    fast, drf = both(settings, lambda tag: post(api, BODY, key=tag))
    assert served == [True]  # with the switch off it is not asked
    assert fast.status_code == 503 and fast.json()["error"]["code"] == "venue_unavailable"
    assert shape(fast) == shape(drf)


def test_an_unexpected_error_is_the_drf_views_500_and_logged(
    api, instruments, settings, served, monkeypatch, caplog
):
    from orders import services

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "order_create", broken)
    with caplog.at_level("ERROR"):
        fast, drf = both(settings, lambda tag: post(api, BODY, key=tag))
    assert served == [True]  # with the switch off it is not asked
    assert fast.status_code == 500 and fast.json()["error"]["code"] == "internal_error"
    assert shape(fast) == shape(drf)
    assert sum("api_unhandled_error" in r.getMessage() for r in caplog.records) == 2


HANDED_OVER = {
    "unknown field": (BODY | {"qty": "1"}, {}),
    "missing field": ({k: v for k, v in BODY.items() if k != "side"}, {}),
    "JSON number": (BODY | {"quantity": 0.01}, {}),
    "bad choice": (BODY | {"side": "BUY"}, {}),
    "blank symbol": (BODY | {"symbol": " "}, {}),
    "failover not a list": (BODY | {"failover": "bitmex"}, {}),
    "negative": (BODY | {"quantity": "-1"}, {}),
    "not an object": ('["an", "array"]', {"raw": True}),
    "not JSON": ("{not json", {"raw": True}),
    "NaN": ('{"quantity": NaN}', {"raw": True}),
    "empty": ("", {"raw": True}),
    "not UTF-8": (b'{"symbol": "\xff"}', {"raw": True}),
    "larger than 4 KB": (BODY | {"pad": "x" * 5000}, {}),
    "text/plain": (json.dumps(BODY), {"raw": True, "content_type": "text/plain"}),
    "Accept: text/html": (BODY, {"HTTP_ACCEPT": "text/html"}),
    "Accept with parameters": (BODY, {"HTTP_ACCEPT": "application/json; indent=2"}),
    "Idempotency-Key too long": (BODY, {"HTTP_IDEMPOTENCY_KEY": "k" * 256}),
    "Idempotency-Key not printable": (BODY, {"HTTP_IDEMPOTENCY_KEY": "a\tb"}),
}


@pytest.mark.parametrize("body,extra", HANDED_OVER.values(), ids=HANDED_OVER)
def test_a_request_it_cannot_answer_exactly_is_the_drf_views(
    api, instruments, settings, served, body, extra
):
    extra = dict(extra)
    fast, drf = both(settings, lambda tag: post(api, body, **extra))

    assert served == [False]  # handed over; with the switch off it is not asked
    assert shape(fast) == shape(drf)
    assert fast.status_code != 202 or "HTTP_ACCEPT" in extra, fast.content


def test_keys_it_cannot_accept_for_are_refused_by_the_drf_view(
    make_key, instruments, settings, served
):
    _, read_only = make_key(account="reader", scopes=("read",))
    revoked, revoked_raw = make_key(account="gone")
    api_key_revoke(key=revoked)
    cases = {
        "read scope only": (f"Bearer {read_only}", 403),
        "revoked": (f"Bearer {revoked_raw}", 401),
        "unknown": ("Bearer tk_unknown", 401),
        "malformed": ("Token a b", 401),
        "missing": (None, 401),
    }
    for name, (header, status) in cases.items():
        client = APIClient()
        if header:
            client.credentials(HTTP_AUTHORIZATION=header)
        for _ in range(2):  # the second one with the key in the cache
            served.clear()
            fast, drf = both(settings, lambda tag, c=client: post(c, BODY, key=tag))
            assert served == [False], name
            assert fast.status_code == status, (name, fast.content)
            assert shape(fast) == shape(drf), name
    assert Order.objects.count() == 0


def test_a_request_handed_over_after_its_lookup_is_counted_once_and_not_looked_up_again(
    make_key, instruments, three_per_minute, monkeypatch, served
):
    key, raw = make_key(account="reader", scopes=("read",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/account").status_code == 200  # the key is in the cache now

    trips = RoundTrips(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        refused = post(client, BODY, key="no-trade")

    assert refused.status_code == 403 and served == [False]
    assert trips.commands() == ["EVALSHA"]  # one lookup with its verdict, not a second one
    assert queries.captured_queries == []  # nor one in PostgreSQL
    assert _throttle_log(key.digest) == 2  # the GET and this POST, each once


def test_over_the_limit_it_is_the_drf_views_429_and_refusals_are_not_recorded(
    api, instruments, three_per_minute, served
):
    # the `served` fixture's GET was the first request of the three
    statuses = [post(api, BODY, key=f"k{i}").status_code for i in range(2)]
    throttled = post(api, BODY, key="k2")

    assert statuses == [202, 202] and served == [True, True, False]
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    error = throttled.json()["error"]
    assert error["code"] == "throttled" and error["details"]["retry_after_seconds"] > 0
    assert _throttle_log(api.key.digest) == 3
    assert Order.objects.count() == 2


def test_last_used_at_is_written_at_most_once_a_minute(api, instruments, served):
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from orders import authentication
    from orders.models import ApiKey

    assert post(api, BODY, key="warm").status_code == 202  # the instrument read and cached
    key = ApiKey.objects.select_related("account").get(pk=api.key.pk)
    key.last_used_at = timezone.now() - timedelta(minutes=2)  # the cached key: used 2 min ago
    cache.set(authentication._CACHE_KEY.format(digest=key.digest), key, timeout=60)

    def verbs() -> list[str]:
        return [
            v
            for v in (q["sql"].split()[0] for q in queries.captured_queries)
            if v not in ("SAVEPOINT", "RELEASE")
        ]

    with CaptureQueriesContext(connection) as queries:
        assert post(api, BODY, key="due").status_code == 202
    assert verbs() == ["UPDATE", "WITH"]
    written = ApiKey.objects.get(pk=key.pk).last_used_at
    assert timezone.now() - written < timedelta(seconds=30)
    with CaptureQueriesContext(connection) as queries:
        assert post(api, BODY, key="not-due").status_code == 202
    assert verbs() == ["WITH"]
    assert served == [True, True, True]


def test_with_redis_down_the_drf_view_accepts_it_with_one_warning(
    api, instruments, served, redis_server, caplog
):
    assert post(api, BODY, key="warm").status_code == 202
    redis_server.stop()
    with caplog.at_level("WARNING"):
        response = post(api, BODY, key="redis-down")
    assert served[-1] is False
    assert response.status_code == 202, response.content
    warnings = [r for r in caplog.records if "throttle_unavailable" in r.getMessage()]
    assert len(warnings) == 1  # the DRF view did not try the combined call again


def test_the_accept_costs_the_same_round_trips_either_way(
    api, instruments, settings, monkeypatch, fake_clock, django_capture_on_commit_callbacks
):
    commands, trips = [], RoundTrips(monkeypatch)
    for enabled in (True, False):
        settings.API_FAST_ACCEPT = enabled
        with django_capture_on_commit_callbacks(execute=True):
            assert post(api, BODY, key=f"warm-{enabled}").status_code == 202
        trips.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert post(api, BODY, key=f"measured-{enabled}").status_code == 202
        commands.append(trips.commands())
    assert commands == [["EVALSHA", "SET", "LPUSH"]] * 2


def _throttle_log(digest: str) -> int:
    from orders import cache as active_cache

    return active_cache.client().zcard(throttle_log_name(digest))


@pytest.mark.django_db(transaction=True)
def test_under_gunicorn_it_keeps_the_correlation_id_log_lines_and_metrics(
    api, instruments, gunicorn_server
):
    import httpx

    headers = {"Authorization": api._credentials["HTTP_AUTHORIZATION"]}
    before = gunicorn_server.requests_counted("order-list", "POST")
    for i in range(4):
        response = httpx.post(
            gunicorn_server.url + URL,
            json=BODY,
            headers={**headers, "X-Request-ID": f"accept-{i}", "Idempotency-Key": f"g{i}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        assert response.headers["X-Request-ID"] == f"accept-{i}"
        assert response.headers["X-Content-Type-Options"] == "nosniff"  # middleware still ran
    order_id = response.json()["id"]
    assert response.headers["Location"] == f"{gunicorn_server.url}{URL}/{order_id}"
    accepted = gunicorn_server.wait_for_log(
        lambda ln: ln.get("event") == "order_accepted" and ln.get("correlation_id") == "accept-3"
    )
    assert accepted["order_id"] == order_id
    line = gunicorn_server.wait_for_log(
        lambda ln: ln.get("event") == "http_request" and ln.get("correlation_id") == "accept-3"
    )
    assert line["path"] == URL and line["status"] == 202
    assert gunicorn_server.requests_counted("order-list", "POST") - before == 4
    order = Order.objects.get(pk=order_id)
    assert order.state == "PENDING_NEW"
    assert order.events.get().correlation_id == "accept-3"

"""API key authentication, scopes, revocation and account isolation."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from orders.models import Account, ApiKey
from orders.models.accounts import hash_key
from orders.scoping import for_account, get_owned
from orders.services_accounts import InvalidScope, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


class _WriteProbe(APIView):
    """A write endpoint used only to exercise the permission class on POST."""

    def post(self, request):
        return Response({"ok": True}, status=201)


urlpatterns = [path("api/v1/probe", _WriteProbe.as_view())]


def _client(raw: str | None = None, header: str | None = None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    elif raw is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_refuses_a_request_without_a_key():
    response = _client().get("/api/v1/account")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_refuses_an_unknown_key():
    response = _client("tk_not-a-real-key").get("/api/v1/account")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_it_refuses_a_malformed_header():
    response = _client(header="Token abc def").get("/api/v1/account")
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


def test_it_accepts_a_valid_key_and_names_the_account(make_key):
    key, raw = make_key(account="desk-a", scopes=("read",))
    response = _client(raw).get("/api/v1/account")
    assert response.status_code == 200
    assert response.json() == {"account": "desk-a", "key_prefix": key.prefix, "scopes": ["read"]}
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_it_refuses_a_revoked_key(make_key):
    key, raw = make_key()
    api_key_revoke(key=key)
    response = _client(raw).get("/api/v1/account")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


@pytest.mark.urls(__name__)
def test_a_read_only_key_cannot_write(make_key):
    _, raw = make_key(scopes=("read",))
    response = _client(raw).post("/api/v1/probe", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "'trade'" in response.json()["error"]["message"]


@pytest.mark.urls(__name__)
def test_a_trade_key_can_write(make_key):
    _, raw = make_key(scopes=("read", "trade"))
    assert _client(raw).post("/api/v1/probe", {}, format="json").status_code == 201


def test_a_trade_only_key_cannot_read(make_key):
    _, raw = make_key(scopes=("trade",))
    assert _client(raw).get("/api/v1/account").status_code == 403


def test_the_raw_key_is_not_stored():
    key, raw = api_key_create(account_name="acme", scopes=["read"])
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in {str(v) for v in stored.values()}
    assert stored["digest"] == hash_key(raw)
    assert not raw.startswith(stored["digest"])


def test_scopes_are_validated():
    with pytest.raises(InvalidScope):
        api_key_create(account_name="acme", scopes=["admin"])
    with pytest.raises(InvalidScope):
        api_key_create(account_name="acme", scopes=[])


def test_create_api_key_command_prints_the_key_last(capsys):
    call_command("create_api_key", "--account", "cli-desk", "--scopes", "read,trade")
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    key = ApiKey.objects.get(digest=hash_key(last_line))
    assert key.account.name == "cli-desk"
    assert key.scopes == ["read", "trade"]
    response = _client(last_line).get("/api/v1/account")
    assert response.json()["account"] == "cli-desk"


def test_for_account_isolates_rows(make_key):
    mine, _ = make_key(account="mine")
    theirs, _ = make_key(account="theirs")
    keys = ApiKey.objects.all()
    assert list(for_account(keys, mine)) == [mine]
    assert get_owned(keys, mine, pk=mine.pk) == mine
    from django.http import Http404

    with pytest.raises(Http404):
        get_owned(keys, mine, pk=theirs.pk)
    with pytest.raises(PermissionError):
        for_account(keys, object())
    assert Account.objects.count() == 2


def test_throttling_is_per_key(make_key, three_per_minute):
    from orders.throttling import ApiKeyRateThrottle

    assert ApiKeyRateThrottle().num_requests == 3
    _, first = make_key(account="a")
    _, second = make_key(account="b")
    statuses = [_client(first).get("/api/v1/account").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = _client(first).get("/api/v1/account").json()["error"]
    assert throttled["code"] == "throttled"
    assert throttled["details"]["retry_after_seconds"] > 0
    assert _client(second).get("/api/v1/account").status_code == 200

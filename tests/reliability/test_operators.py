"""Operators force-open / force-close / reset breakers from the admin board and the CLI."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client

from reliability.breaker import Breaker, breaker_for
from reliability.errors import BreakerOpenError
from reliability.guard import guarded_call
from reliability.models import CircuitEvent

pytestmark = pytest.mark.django_db

BOARD = "/admin/reliability/breakerboard/"
API = "binance.usdm"


def staff(username: str, *perms: str) -> Client:
    user = User.objects.create_user(username, password="x", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(fresh_reliability):
    return staff("olga", "view_circuitevent", "operate_breakers")


def test_the_board_lists_every_venue_api_with_its_live_state(operator):
    breaker_for("bitmex").force_open(by="someone", reason="maintenance")
    page = operator.get(BOARD)
    assert page.status_code == 200
    html = page.content.decode()
    for api in ("binance.spot", "binance.usdm", "binance.coinm", "bitmex"):
        assert f'data-venue-api="{api}"' in html
    assert 'data-venue-api="bitmex" data-state="forced_open"' in html
    assert "maintenance" in html
    assert "Breaker board" in operator.get("/admin/").content.decode()


def test_force_open_from_the_board_stops_every_call_from_the_next_one_on(operator):
    sent = []

    def venue():
        sent.append(1)
        return "ok"

    assert guarded_call(API, "submit", venue) == "ok"
    response = operator.post(
        BOARD, {"venue_api": API, "action": "force_open", "reason": "venue incident #42"}
    )
    assert response.status_code == 302
    for handle in (breaker_for(API), Breaker(API)):  # this process, and any other's view
        assert handle.state == "forced_open"
        assert handle.allows_calls() is False
    with pytest.raises(BreakerOpenError) as refused:
        guarded_call(API, "submit", venue)
    assert refused.value.forced is True and refused.value.sent is False
    assert sent == [1]
    assert guarded_call("bitmex", "submit", venue) == "ok"  # other venues unaffected
    event = CircuitEvent.objects.get(venue_api=API)
    assert (event.from_state, event.to_state, event.trigger) == (
        "closed",
        "forced_open",
        "force_open",
    )
    assert (event.actor, event.reason) == ("olga", "venue incident #42")
    board = operator.get(BOARD).content.decode()
    assert "venue incident #42" in board and "olga" in board

    operator.post(BOARD, {"venue_api": API, "action": "reset", "reason": "incident over"})
    assert guarded_call(API, "submit", venue) == "ok"


def test_the_board_refuses_actions_without_reason_or_permission(operator):
    response = operator.post(BOARD, {"venue_api": API, "action": "force_open", "reason": " "})
    assert response.status_code == 302
    assert breaker_for(API).state == "closed"
    viewer = staff("victor", "view_circuitevent")
    assert viewer.get(BOARD).status_code == 200
    assert "force-open" not in viewer.get(BOARD).content.decode()
    denied = viewer.post(BOARD, {"venue_api": API, "action": "force_open", "reason": "x"})
    assert denied.status_code == 403
    assert breaker_for(API).state == "closed"
    assert staff("nobody").get(BOARD).status_code == 403
    assert CircuitEvent.objects.count() == 0


def test_an_illegal_action_is_reported_not_applied(operator):
    operator.post(BOARD, {"venue_api": API, "action": "force_open", "reason": "a"})
    page = operator.post(
        BOARD, {"venue_api": API, "action": "force_open", "reason": "b"}, follow=True
    )
    assert "illegal breaker transition" in page.content.decode()
    assert CircuitEvent.objects.count() == 1


def test_the_cli_lists_opens_closes_and_resets(fresh_reliability, capsys):
    call_command("breakers", "open", "bitmex", "--reason", "exchange maintenance", "--by", "ana")
    call_command("breakers", "list")
    out = capsys.readouterr().out
    assert "bitmex: forced_open (by ana)" in out
    assert "forced_open" in out.splitlines()[-1] and "exchange maintenance" in out
    call_command("breakers", "close", "bitmex", "--reason", "override")
    assert breaker_for("bitmex").state == "forced_closed"
    call_command("breakers", "reset", "bitmex", "--reason", "done")
    assert breaker_for("bitmex").state == "closed"
    actors = list(CircuitEvent.objects.order_by("id").values_list("actor", "trigger"))
    assert actors[0] == ("ana", "force_open")
    assert actors[1][0].startswith("cli:") and actors[2][1] == "reset"
    with pytest.raises(CommandError, match="reason"):
        call_command("breakers", "open", "bitmex")
    with pytest.raises(CommandError, match="needs a venue API"):
        call_command("breakers", "open")

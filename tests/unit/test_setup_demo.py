"""`make run`'s first-run set-up: admin login and demo key, reused by the second run."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _venues(emulator):
    """setup_demo loads the instruments from the venues: the emulator answers at once."""


def _run(tmp_path, capsys, *, instruments: bool = False) -> str:
    """Only the test about instruments loads them (four venue calls per run)."""
    extra = [] if instruments else ["--skip-instruments"]
    call_command("setup_demo", "--state-dir", str(tmp_path), *extra)
    return capsys.readouterr().out


def test_it_creates_an_admin_and_a_working_demo_key(tmp_path, capsys):
    out = _run(tmp_path, capsys, instruments=True)
    password = (tmp_path / "admin-password").read_text().strip()
    key = (tmp_path / "demo-api-key").read_text().strip()
    assert password in out
    assert key in out
    assert get_user_model().objects.get(username="admin").check_password(password)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/account").json()["account"] == "demo"
    assert oct((tmp_path / "demo-api-key").stat().st_mode)[-3:] == "600"
    from orders.models import Instrument

    assert Instrument.objects.filter(venue_api="binance.usdm", symbol="BTC/USDT:USDT").exists()


def test_make_run_leaves_the_instruments_to_the_worker(tmp_path, capsys):
    from orders.models import Instrument

    _run(tmp_path, capsys)
    assert not Instrument.objects.exists()


def test_a_second_run_reuses_the_same_login_and_key(tmp_path, capsys):
    _run(tmp_path, capsys)
    first = ((tmp_path / "admin-password").read_text(), (tmp_path / "demo-api-key").read_text())
    _run(tmp_path, capsys)
    second = ((tmp_path / "admin-password").read_text(), (tmp_path / "demo-api-key").read_text())
    assert first == second


def test_a_revoked_demo_key_is_replaced(tmp_path, capsys):
    from orders.models import ApiKey

    _run(tmp_path, capsys)
    old = (tmp_path / "demo-api-key").read_text().strip()
    ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
    _run(tmp_path, capsys)
    new = (tmp_path / "demo-api-key").read_text().strip()
    assert new != old
    assert ApiKey.objects.active().count() == 1

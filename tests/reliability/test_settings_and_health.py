"""Reliability settings are validated per venue API; health sees the breakers."""

from __future__ import annotations

import pytest

from reliability.conf import (
    breaker_config_from_env,
    rate_config_from_env,
    retry_config_from_env,
)
from trading.env import EnvError


def test_a_venue_api_override_wins_over_the_global_setting(monkeypatch):
    monkeypatch.setenv("BREAKER_FAILURE_COUNT", "7")
    monkeypatch.setenv("BREAKER_BITMEX_FAILURE_COUNT", "2")
    monkeypatch.setenv("BREAKER_BITMEX_RECOVERY_SECONDS", "12.5")
    assert breaker_config_from_env("bitmex").failure_count == 2
    assert breaker_config_from_env("bitmex").recovery_seconds == 12.5
    assert breaker_config_from_env("binance.spot").failure_count == 7


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("BREAKER_BINANCE_USDM_FAILURE_RATE", "1.5", "share"),
        ("BREAKER_HALF_OPEN_CALLS", "0", ">= 1"),
        ("BREAKER_FAILURE_COUNT", "many", "integer"),
    ],
)
def test_bad_breaker_settings_stop_the_process_naming_the_variable(
    monkeypatch, name, value, problem
):
    monkeypatch.setenv(name, value)
    with pytest.raises(EnvError, match=problem) as err:
        breaker_config_from_env("binance.usdm")
    assert name.split("_")[-1] in str(err.value)


def test_a_breaker_that_can_never_trip_is_refused(monkeypatch):
    monkeypatch.setenv("BREAKER_FAILURE_COUNT", "0")
    monkeypatch.setenv("BREAKER_FAILURE_RATE", "0")
    with pytest.raises(EnvError, match="nothing can trip"):
        breaker_config_from_env("bitmex")


def test_rate_and_retry_settings_are_validated(monkeypatch):
    monkeypatch.setenv("RATE_BINANCE_SPOT_WEIGHT_PER_MINUTE", "1200")
    spot = {b.name: b for b in rate_config_from_env().budgets["binance.spot"]}
    assert spot["weight_1m"].limit == 1200 and spot["weight_1m"].scope == "ip"
    assert spot["orders_10s"].scope == "key"
    monkeypatch.setenv("RATE_HIGH_RESERVE", "0.7")
    monkeypatch.setenv("RATE_NORMAL_RESERVE", "0.3")
    with pytest.raises(EnvError, match="RATE_HIGH_RESERVE"):
        rate_config_from_env()
    monkeypatch.delenv("RATE_HIGH_RESERVE")
    monkeypatch.setenv("RATE_LOCAL_FALLBACK_SHARE", "2")
    with pytest.raises(EnvError, match="RATE_LOCAL_FALLBACK_SHARE"):
        rate_config_from_env()
    monkeypatch.setenv("RETRY_SUBMIT_ATTEMPTS", "0")
    with pytest.raises(EnvError, match="RETRY_SUBMIT_ATTEMPTS"):
        retry_config_from_env()


@pytest.mark.django_db
def test_the_reliability_check_is_registered_with_monitoring(fresh_reliability):
    from monitoring.health import get_check
    from reliability.breaker import breaker_for

    breaker_for("binance.coinm").force_open(by="ops", reason="drill")
    report = get_check("reliability").fn()
    assert report["ok"] is True and report["status"] == "ok" and report["degraded"] is False
    assert report["breakers"]["binance.coinm"]["state"] == "forced_open"
    assert report["breakers"]["binance.coinm"]["allows_calls"] is False
    assert set(report["breakers"]) == {"binance.spot", "binance.usdm", "binance.coinm", "bitmex"}

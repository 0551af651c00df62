"""Settings validation: each bad value stops the process with an error naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.fixtures.services import ROOT
from trading import env


def _clean_environ() -> dict:
    # Browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
    return {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}


def _boot(**overrides) -> subprocess.CompletedProcess:
    environment = {**_clean_environ(), **overrides}
    for name, value in overrides.items():
        if value is None:
            environment.pop(name)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"TRADING_STAGE": None}, "TRADING_STAGE"),
        ({"TRADING_STAGE": "staging"}, "TRADING_STAGE"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://app@127.0.0.1:5432/"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://127.0.0.1"}, "REDIS_URL"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        (
            {"CELERY_TASK_TIME_LIMIT": "10", "CELERY_TASK_SOFT_TIME_LIMIT": "20"},
            "CELERY_TASK_TIME_LIMIT",
        ),
        ({"CELERY_TASK_SOFT_TIME_LIMIT": "soon"}, "CELERY_TASK_SOFT_TIME_LIMIT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"BITMEX_BASE_URL": "ftp://example"}, "BITMEX_BASE_URL"),
    ],
)
def test_it_refuses_a_bad_value_naming_the_variable(overrides, variable):
    result = _boot(**overrides)
    assert result.returncode != 0
    assert f"environment variable {variable}" in result.stderr


PRODUCTION = {
    "TRADING_STAGE": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-for-the-test-only-0123456789",
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "DJANGO_DEBUG": "false",
}


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS"),
    ],
)
def test_it_refuses_an_unsafe_production_configuration(overrides, variable):
    result = _boot(**{**PRODUCTION, **overrides})
    assert result.returncode != 0
    assert f"environment variable {variable}" in result.stderr


def test_it_passes_the_deploy_checklist_in_production():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**_clean_environ(), **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_readers_convert_good_values(monkeypatch):
    monkeypatch.setenv("X_INT", "7")
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    monkeypatch.setenv("X_DEC", "0.00001")
    monkeypatch.setenv("X_FLOAT", "1.5")
    assert env.env_int("X_INT", min_value=1) == 7
    assert env.env_bool("X_BOOL") is True
    assert env.env_list("X_LIST") == ["a", "b", "c"]
    assert env.env_decimal("X_DEC") == Decimal("0.00001")
    assert env.env_float("X_FLOAT") == 1.5
    assert env.env_str("X_UNSET", "dflt") == "dflt"


@pytest.mark.parametrize(
    ("reader", "value", "kwargs"),
    [
        (env.env_int, "0", {"min_value": 1}),
        (env.env_int, "99", {"max_value": 10}),
        (env.env_float, "-1", {}),
        (env.env_float, "nan", {}),
        (env.env_decimal, "1,5", {}),
        (env.env_str, "c", {"choices": ("a", "b")}),
    ],
)
def test_readers_refuse_bad_values(monkeypatch, reader, value, kwargs):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(env.EnvError, match="X_BAD"):
        reader("X_BAD", **kwargs)


def test_database_url_is_parsed(monkeypatch):
    monkeypatch.setenv("X_DB", "postgresql://u:p%40ss@db.internal:6543/trading")
    parsed = env.database_from_url("X_DB")
    assert parsed["HOST"] == "db.internal"
    assert parsed["PORT"] == "6543"
    assert parsed["NAME"] == "trading"
    assert parsed["USER"] == "u"

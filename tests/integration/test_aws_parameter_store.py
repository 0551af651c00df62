"""Secrets from SSM Parameter Store (moto's server standing in for AWS): loaded by path into the
environment before settings read it, never logged, and a process refuses to start without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures.aws import ROOT, aws_env, boto_client
from tests.fixtures.services import script_result
from trading import aws_secrets
from trading.env import EnvError

PATH = "/trading/production"
DJANGO_SECRET = "ssm-django-secret-" + "x7Rk2pQ9" * 6
BINANCE_SECRET = "ssm-binance-secret-4bY8mN1vC6"


def _put(name: str, value: str, kind: str = "SecureString") -> None:
    boto_client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)


def test_it_loads_every_parameter_under_the_path_by_name(aws):
    _put(f"{PATH}/DJANGO_SECRET_KEY", DJANGO_SECRET)
    _put(f"{PATH}/binance/api_secret", BINANCE_SECRET)
    _put(f"{PATH}/DJANGO_ALLOWED_HOSTS", "trading.example.com", kind="String")
    for i in range(12):  # more than one page (get_parameters_by_path pages by 10)
        _put(f"{PATH}/extra/value-{i:02d}", f"v{i}", kind="String")
    _put(f"{PATH}/9lives", "not a variable name", kind="String")
    _put("/trading/staging/DJANGO_SECRET_KEY", "another stage's secret")
    environ = {aws_secrets.PATH_VARIABLE: PATH}

    loaded = aws_secrets.load_parameters(environ)

    assert environ["DJANGO_SECRET_KEY"] == DJANGO_SECRET
    assert environ["BINANCE_API_SECRET"] == BINANCE_SECRET
    assert environ["DJANGO_ALLOWED_HOSTS"] == "trading.example.com"
    assert environ["EXTRA_VALUE_11"] == "v11"
    assert len(loaded) == 15 and "9LIVES" in aws_secrets.skipped_names
    assert DJANGO_SECRET in aws_secrets.secret_values
    assert "trading.example.com" not in aws_secrets.secret_values  # a String is no secret


def test_a_variable_already_set_wins_over_the_parameter(aws):
    _put(f"{PATH}/BINANCE_API_SECRET", BINANCE_SECRET)
    environ = {aws_secrets.PATH_VARIABLE: PATH, "BINANCE_API_SECRET": "from-the-environment"}
    aws_secrets.load_parameters(environ)
    assert environ["BINANCE_API_SECRET"] == "from-the-environment"
    assert aws_secrets.skipped_names == ["BINANCE_API_SECRET"]


def test_without_a_path_it_does_nothing():
    environ = {"BINANCE_API_SECRET": "x"}
    assert aws_secrets.load_parameters(environ) == []
    assert environ == {"BINANCE_API_SECRET": "x"}


def test_a_relative_path_is_refused():
    with pytest.raises(EnvError, match="AWS_SSM_PARAMETER_PATH: must be an absolute"):
        aws_secrets.load_parameters({aws_secrets.PATH_VARIABLE: "trading/production"})


def _start_process(env: dict[str, str], script: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DJANGO_", "BINANCE_", "BITMEX_"))
    }
    base["DJANGO_SETTINGS_MODULE"] = "trading.settings"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_production_process_starts_with_its_secrets_only_in_parameter_store(aws):
    _put(f"{PATH}/DJANGO_SECRET_KEY", DJANGO_SECRET)
    _put(f"{PATH}/BINANCE_API_SECRET", BINANCE_SECRET)
    _put(f"{PATH}/DJANGO_ALLOWED_HOSTS", "trading.example.com", kind="String")
    script = (
        "import django, json, structlog, sys; django.setup(); from django.conf import settings; "
        "structlog.get_logger('leak').warning('oops', detail='key is " + BINANCE_SECRET + "'); "
        "sys.stdout.write('RESULT ' + json.dumps([settings.SECRET_KEY == '" + DJANGO_SECRET + "', "
        "settings.BINANCE_API_SECRET == '"
        + BINANCE_SECRET
        + "', settings.ALLOWED_HOSTS]) + chr(10))"
    )
    env = {**aws_env(aws), "TRADING_STAGE": "production", aws_secrets.PATH_VARIABLE: PATH}
    result = _start_process(env, script)
    assert result.returncode == 0, result.stderr
    assert script_result(result.stdout) == [
        True,
        True,
        ["trading.example.com"],
    ]
    logs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    loaded = next(line for line in logs if line["event"] == "ssm_parameters_loaded")
    assert loaded["path"] == PATH
    assert loaded["names"] == ["BINANCE_API_SECRET", "DJANGO_ALLOWED_HOSTS", "DJANGO_SECRET_KEY"]
    assert any(line["event"] == "oops" for line in logs)
    output = result.stdout + result.stderr
    assert DJANGO_SECRET not in output and BINANCE_SECRET not in output


def test_a_process_refuses_to_start_when_parameter_store_is_unreachable():
    env = {
        **aws_env("http://127.0.0.1:1"),
        "TRADING_STAGE": "production",
        aws_secrets.PATH_VARIABLE: PATH,
    }
    result = _start_process(env, "import django; django.setup()")
    assert result.returncode != 0
    assert f"environment variable AWS_SSM_PARAMETER_PATH: cannot read {PATH}" in result.stderr

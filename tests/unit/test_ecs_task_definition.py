"""deploy/ecs-task-definition.json: web, worker and beat from one image, health checks, awslogs,
secrets from Parameter Store (never in plain environment), and everything settings require."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.fixtures.aws import ROOT, boto_client

TASK = json.loads((ROOT / "deploy" / "ecs-task-definition.json").read_text())
CONTAINERS = {c["name"]: c for c in TASK["containerDefinitions"]}
SECRET_NAMES = {
    "DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL",
    "BINANCE_API_KEY", "BINANCE_API_SECRET", "BITMEX_API_KEY", "BITMEX_API_SECRET",
}  # fmt: skip
SECRETISH = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|CREDENTIAL|PRIVATE")
# Stand-ins for what ECS would resolve from Parameter Store, valid for the settings' checks.
DUMMY_SECRETS = {
    "DJANGO_SECRET_KEY": "t" * 64,
    "DATABASE_URL": "postgres://app:pw@db.internal:5432/trading",
    "REDIS_URL": "rediss://:pw@redis.internal:6379/0",
}


def _env(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("environment", [])}


def _dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    block = re.search(r"^ENV (.*?)(?<!\\)$", runtime, re.MULTILINE | re.DOTALL).group(1)
    return dict(re.findall(r"([A-Z_]+)=(\S+)", block.replace("\\\n", " ")))


def test_it_runs_web_worker_and_beat_from_one_image():
    assert set(CONTAINERS) == {"web", "worker", "beat"}
    assert len({c["image"] for c in CONTAINERS.values()}) == 1
    for name, container in CONTAINERS.items():
        assert container["command"] == [name]  # deploy/entrypoint picks the process
        assert container["essential"] is True
    assert TASK["networkMode"] == "awsvpc" and TASK["requiresCompatibilities"] == ["FARGATE"]
    assert TASK["executionRoleArn"] != TASK["taskRoleArn"]


def test_every_container_has_a_health_check_of_its_own_kind():
    for name, container in CONTAINERS.items():
        check = container["healthCheck"]
        assert check["command"] == ["CMD", "python", "deploy/healthcheck", name]
        assert check["timeout"] < check["interval"] and check["retries"] >= 2
    assert CONTAINERS["web"]["portMappings"][0]["containerPort"] == 8000
    assert CONTAINERS["worker"]["portMappings"][0]["containerPort"] == 9808
    assert _env(CONTAINERS["worker"])["WORKER_METRICS_BIND"] == "0.0.0.0"


def test_every_container_logs_to_cloudwatch_without_blocking():
    for name, container in CONTAINERS.items():
        logs = container["logConfiguration"]
        assert logs["logDriver"] == "awslogs"
        assert logs["options"]["awslogs-stream-prefix"] == name
        assert logs["options"]["awslogs-group"] and logs["options"]["awslogs-region"]
        assert logs["options"]["mode"] == "non-blocking"


def test_secrets_come_from_parameter_store_of_the_stage_path():
    for container in CONTAINERS.values():
        secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
        assert set(secrets) == SECRET_NAMES
        path = _env(container)["AWS_SSM_PARAMETER_PATH"]
        for name, arn in secrets.items():
            assert re.fullmatch(rf"arn:aws:ssm:[a-z0-9-]+:\d{{12}}:parameter{path}/{name}", arn)


def test_no_secret_is_in_plain_environment():
    for container in CONTAINERS.values():
        for name, value in _env(container).items():
            assert not SECRETISH.search(name), f"{name} must come from secrets"
            assert name not in SECRET_NAMES
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", value), f"{name} holds credentials"
            assert not re.fullmatch(r"[A-Za-z0-9+/=_-]{32,}", value), f"{name} looks like a key"


def _container_env(name: str) -> dict[str, str]:
    """Dockerfile ENV + the container's environment + its secrets, as ECS resolves them."""
    container = CONTAINERS[name]
    env = {**_dockerfile_env(), **_env(container)}
    env.pop("AWS_SSM_PARAMETER_PATH")  # ECS already injected the secrets; no AWS here
    env.update({s["name"]: DUMMY_SECRETS.get(s["name"], "dummy") for s in container["secrets"]})
    env.update(PATH=os.environ["PATH"], PROMETHEUS_MULTIPROC_DIR="", LOG_LEVEL="ERROR")
    return env


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_settings_load_with_exactly_what_the_container_gets(name):
    """No variable the settings require in production is missing from any container."""
    env = _container_env(name)
    assert env["TRADING_STAGE"] == "production"
    result = _settings_load(env)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_settings_check_fails_when_a_required_variable_is_missing():
    env = _container_env("web")
    del env["DJANGO_SECRET_KEY"]
    result = _settings_load(env)
    assert result.returncode != 0
    assert "environment variable DJANGO_SECRET_KEY" in result.stderr


def _settings_load(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={k: v for k, v in env.items() if v != ""},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_ecs_api_accepts_it(aws):
    """botocore validates every key and type against the ECS API model; moto registers it."""
    ecs = boto_client("ecs")
    registered = ecs.register_task_definition(**TASK)["taskDefinition"]
    assert {c["name"] for c in registered["containerDefinitions"]} == {"web", "worker", "beat"}
    assert registered["family"] == "trading"

"""Secrets from AWS SSM Parameter Store, put into the environment before settings read it.

trading/settings.py calls load_parameters() first thing. It does nothing unless
AWS_SSM_PARAMETER_PATH names a path (one per stage: /trading/production, /trading/staging).
Then every parameter under that path (recursive; SecureString decrypted) becomes the environment
variable named by the rest of its name, upper-cased, slashes as underscores:

    /trading/production/DJANGO_SECRET_KEY      -> DJANGO_SECRET_KEY
    /trading/production/binance/api_secret     -> BINANCE_API_SECRET

A variable already in the environment wins (ECS injects the same parameters through the task
definition's `secrets`; a local override stays possible). Values are never logged: only the
names loaded are kept (loaded_names), and SecureString values are handed to the log redaction.
Credentials, region and endpoint come from boto3's usual chain (task role, AWS_REGION,
AWS_ENDPOINT_URL for a local stand-in). When the path is set and Parameter Store cannot be read,
the process stops: it must never start without its secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping

from trading.env import EnvError

PATH_VARIABLE = "AWS_SSM_PARAMETER_PATH"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

loaded_names: list[str] = []  # what the last load put into the environment (names only)
skipped_names: list[str] = []  # parameters whose names cannot be variables, or already set
secret_values: list[str] = []  # SecureString values, for the log redaction


def variable_name(path: str, parameter_name: str) -> str:
    relative = parameter_name[len(path) :].strip("/")
    return re.sub(r"[/.\-]", "_", relative).upper()


def _client():
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
    )
    return boto3.client("ssm", config=config)


def fetch(path: str, client=None) -> list[dict]:
    """Every parameter under `path` (all pages), decrypted."""
    client = client or _client()
    pages = client.get_paginator("get_parameters_by_path").paginate(
        Path=path, Recursive=True, WithDecryption=True
    )
    return [parameter for page in pages for parameter in page["Parameters"]]


def load_parameters(environ: MutableMapping[str, str] | None = None, client=None) -> list[str]:
    """Loads the stage's parameters into `environ` (os.environ); returns the names loaded."""
    environ = os.environ if environ is None else environ
    path = (environ.get(PATH_VARIABLE) or "").strip()
    loaded_names.clear()
    skipped_names.clear()
    if not path:
        return []
    if not path.startswith("/"):
        raise EnvError(PATH_VARIABLE, f"must be an absolute parameter path, got {path!r}")
    path = path.rstrip("/") or "/"
    try:
        parameters = fetch(path, client)
    except Exception as exc:  # botocore raises many kinds; the message never holds a value
        raise EnvError(
            PATH_VARIABLE, f"cannot read {path} from Parameter Store: {type(exc).__name__}: {exc}"
        ) from None
    for parameter in sorted(parameters, key=lambda p: p["Name"]):
        name = variable_name(path, parameter["Name"])
        if not _NAME.match(name) or environ.get(name, "").strip():
            skipped_names.append(name)
            continue
        environ[name] = parameter["Value"]
        loaded_names.append(name)
        if parameter.get("Type") == "SecureString":
            secret_values.append(parameter["Value"])
    return list(loaded_names)

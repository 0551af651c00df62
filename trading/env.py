"""Typed readers for environment variables.

Each reader refuses a bad value with an error that names the variable, so a misconfigured
process stops at start-up instead of misbehaving later.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvError(ImproperlyConfigured):
    """A configuration variable is missing or has a bad value."""

    def __init__(self, name: str, problem: str):
        self.name = name
        super().__init__(f"environment variable {name}: {problem}")


def _raw(name: str, default: object) -> str | object:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        if default is _MISSING:
            raise EnvError(name, "is required but not set")
        return default
    return value.strip()


def env_str(name: str, default: str | object = _MISSING, *, choices: tuple[str, ...] = ()) -> str:
    value = _raw(name, default)
    if choices and value not in choices:
        raise EnvError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value  # type: ignore[return-value]


def env_bool(name: str, default: bool | object = _MISSING) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(name, f"must be a boolean (true/false), got {value!r}")


def env_int(
    name: str,
    default: int | object = _MISSING,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
) -> int:
    value = _raw(name, default)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EnvError(name, f"must be an integer, got {value!r}") from None
    if min_value is not None and number < min_value:
        raise EnvError(name, f"must be >= {min_value}, got {number}")
    if max_value is not None and number > max_value:
        raise EnvError(name, f"must be <= {max_value}, got {number}")
    return number


def env_float(name: str, default: float | object = _MISSING, *, min_value: float = 0.0) -> float:
    """For durations in seconds and probabilities; never for money (see env_decimal)."""
    value = _raw(name, default)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EnvError(name, f"must be a number, got {value!r}") from None
    if number < min_value or number != number:
        raise EnvError(name, f"must be >= {min_value}, got {value!r}")
    return number


def env_decimal(name: str, default: Decimal | object = _MISSING) -> Decimal:
    value = _raw(name, default)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise EnvError(name, f"must be a decimal number, got {value!r}") from None


def env_list(name: str, default: list[str] | object = _MISSING) -> list[str]:
    value = _raw(name, default)
    if isinstance(value, list):
        return value
    return [item.strip() for item in str(value).split(",") if item.strip()]


def env_url(name: str, default: str | object = _MISSING, *, schemes: tuple[str, ...]) -> str:
    value = str(_raw(name, default))
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise EnvError(name, f"must be a URL with scheme {'/'.join(schemes)} and a host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise EnvError(name, "has an invalid port") from None
    return value


def database_from_url(name: str) -> dict:
    """DATABASE_URL (postgres://user:pass@host:port/db) -> Django DATABASES entry."""
    url = env_url(name, schemes=("postgres", "postgresql"))
    parts = urlsplit(url)
    db = parts.path.lstrip("/")
    if not db:
        raise EnvError(name, "must name a database (postgres://user@host:port/NAME)")
    return {
        "NAME": db,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": str(parts.port or 5432),
    }

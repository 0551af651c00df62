"""The README stays true: every environment variable the code reads is in it, and every API
endpoint has a curl example."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import get_resolver

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# env_int("NAME", ...), env_str("NAME"), os.environ.get("NAME"), os.environ["NAME"], ${NAME:-...}
PY_READ = re.compile(
    r"""(?:\benv_\w+\(\s*|os\.environ(?:\.get)?[(\[]\s*|getenv\(\s*)["']([A-Z][A-Z0-9_]+)["']"""
)
SH_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]+):[-=]")
SOURCES = ["trading", "orders", "exchanges", "reliability", "monitoring"]
# Read by the environment's tools, not by this project's configuration.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "PATH", "PYTHON", "HOME", "ARGS", "CI"}


def _variables() -> set[str]:
    names = set()
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                names |= set(PY_READ.findall(path.read_text()))
    for path in [*(ROOT / "deploy").iterdir(), *(ROOT / "scripts").glob("*.sh")]:
        if path.is_file():
            text = path.read_text(errors="ignore")
            names |= set(SH_READ.findall(text)) | set(PY_READ.findall(text))
    return names - NOT_SETTINGS


def test_every_environment_variable_is_documented():
    variables = _variables()
    assert len(variables) > 40  # the scan finds the settings at all
    missing = sorted(name for name in variables if not re.search(rf"\b{name}\b", README))
    assert not missing, f"README's configuration tables lack {missing}"


def test_every_api_endpoint_has_a_curl_example():
    curl_lines = "\n".join(
        line for line in README.splitlines() if "curl " in line or "/api/v1/" in line
    )
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    missing = []
    for pattern in api.url_patterns:
        route = re.sub(r"<[^>]+>", "", str(pattern.pattern)).split("/")[0]
        if not re.search(rf"/api/v1/{re.escape(route)}\b", curl_lines):
            missing.append(str(pattern.pattern))
    assert not missing, f"README has no curl example for {missing}"


def test_every_health_endpoint_has_a_curl_example():
    for path in ("/health/live", "/health/ready", "/health/", "/health/exchanges/", "/metrics"):
        assert f"curl -s http://127.0.0.1:8000{path}" in README, path

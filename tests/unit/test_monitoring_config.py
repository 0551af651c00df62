"""The Prometheus rules and the Grafana dashboard speak about metrics that exist: every name an
expression uses is in monitoring/metrics.py (or django-prometheus, or a recording rule).
Every alert has a promtool test that fires it and a runbook entry in the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from monitoring import metrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "monitoring" / "prometheus"
DASHBOARD = ROOT / "monitoring" / "grafana" / "trading-overview.json"

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?|[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names_in(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers (and Grafana's ${...})
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors ($__rate_interval)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in _TOKEN.finditer(expr):
        token = match.group()
        following = expr[match.end() :].lstrip()[:1]
        if token[0].isdigit() or token in _KEYWORDS or following == "(":
            continue
        names.add(token)
    return names


def _exposed_names(metric) -> set[str]:
    if isinstance(metric, Counter):
        return {metric._name + "_total"}
    if isinstance(metric, Histogram):
        return {metric._name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return {metric._name}


def _recording_rules() -> list[dict]:
    groups = yaml.safe_load((PROM / "rules" / "recording.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROM / "rules" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def known_names() -> set[str]:
    names = {"up"}
    for obj in vars(metrics).values():
        if isinstance(obj, Counter | Gauge | Histogram):
            names |= _exposed_names(obj)
    names |= {family.name for family in metrics.CeleryQueueLengthCollector().describe()}
    import django_prometheus.cache.metrics
    import django_prometheus.db.metrics  # noqa: F401 - registers the database metrics
    from django_prometheus.middleware import Metrics

    Metrics.get_instance()  # the request metrics, created with the first middleware
    for collector in list(REGISTRY._collector_to_names):
        names |= set(REGISTRY._collector_to_names[collector])
    names |= {rule["record"] for rule in _recording_rules()}
    return names


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            exprs += [target["expr"] for target in inner.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(re.sub(r"label_values\((\w+),.*\)", r"\1", query["query"]))
    return exprs


def test_the_name_extractor_reads_promql():
    expr = (
        'sum by (venue) (rate(venue_calls_total{outcome!~"ok|rejected", venue=~"$venue"}[5m]))'
        " / on (venue) group_left venue:venue_calls:rate5m > 0.5 and up == 1e3"
    )
    assert metric_names_in(expr) == {"venue_calls_total", "venue:venue_calls:rate5m", "up"}


def test_every_dashboard_expression_reads_existing_metrics(known_names):
    exprs = _dashboard_exprs()
    assert len(exprs) >= 30
    for expr in exprs:
        names = metric_names_in(expr)
        assert names, expr
        assert names <= known_names, f"unknown {names - known_names} in {expr}"


def test_every_rule_expression_reads_existing_metrics(known_names):
    for rule in _recording_rules() + _alert_rules():
        names = metric_names_in(rule["expr"])
        assert names, rule
        assert names <= known_names, f"unknown {names - known_names} in {rule}"


def test_the_dashboard_covers_the_catalogue():
    """Each metric of monitoring/metrics.py is on the dashboard (directly or via a rule)."""
    used = set().union(*(metric_names_in(expr) for expr in _dashboard_exprs()))
    for rule in _recording_rules():
        if rule["record"] in used:
            used |= metric_names_in(rule["expr"])
    for obj in vars(metrics).values():
        if isinstance(obj, Counter | Gauge | Histogram):
            assert _exposed_names(obj) & used, f"{obj._name} is on no dashboard panel"


def test_every_alert_has_a_firing_promtool_test_and_a_runbook_entry():
    tests = yaml.safe_load((PROM / "tests" / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    readme = (ROOT / "README.md").read_text()
    for rule in _alert_rules():
        name = rule["alert"]
        assert name in fired, f"{name}: no promtool test fires it"
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["runbook"] == f"README.md#{name.lower()}", name
        assert re.search(rf"^#### {name}$", readme, re.MULTILINE), f"{name}: no README runbook"

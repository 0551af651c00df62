"""A real Prometheus (Debian's package, as scripts/test.d/promtool.sh installs it) scrapes a real
gunicorn and a real Celery worker with the checked-in scrape config and rules; metrics are read
back through its query API, and every dashboard expression runs in its engine."""

from __future__ import annotations

import json
import re
import shutil

import httpx
import pytest
import yaml

from monitoring.tasks import beat_heartbeat
from tests.fixtures.processes import ROOT, GunicornServer, PrometheusServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROM = ROOT / "monitoring" / "prometheus"
HITS = 7


def _config(web: GunicornServer, worker_port: int) -> dict:
    """The checked-in config, pointed at the test processes and scraping every second."""
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROM / path) for path in config["rule_files"]]
    targets = {"trading-web": f"127.0.0.1:{web.port}", "trading-worker": f"127.0.0.1:{worker_port}"}
    for job in config["scrape_configs"]:
        job["static_configs"][0]["targets"] = [targets[job["job_name"]]]
    return config


def _value(prometheus: PrometheusServer, promql: str) -> float | None:
    result = prometheus.query(promql)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_web_and_worker_and_loads_the_rules(tmp_path, worker):
    assert shutil.which("prometheus"), "prometheus missing: make test installs it (scripts/test.d)"
    web = GunicornServer(
        tmp_path / "web", workers=1
    )  # summing workers: test_gunicorn_metrics_and_logs
    prometheus = PrometheusServer(tmp_path / "prom", _config(web, worker.metrics_port))
    try:
        for _ in range(HITS):
            assert httpx.get(web.url + "/health/live", timeout=10).status_code == 200
        beat_heartbeat.apply_async(queue="default")

        def scraped(promql, at_least):
            value = _value(prometheus, promql)
            return value is not None and value >= at_least

        prometheus.wait_for(lambda: scraped('up{job="trading-web"}', 1), what="web scraped")
        prometheus.wait_for(lambda: scraped('up{job="trading-worker"}', 1), what="worker scraped")
        requests = (
            'sum(django_http_requests_total_by_view_transport_method_total{view="health-live"})'
        )
        prometheus.wait_for(lambda: scraped(requests, HITS), what="the web's request count")
        tasks = 'sum(celery_tasks_total{task="monitoring.tasks.beat_heartbeat", outcome="success"})'
        prometheus.wait_for(lambda: scraped(tasks, 1), what="the worker's task count")
        assert _value(prometheus, "max(beat_heartbeat_timestamp_seconds)") > 1e9  # a unix time
        assert _value(prometheus, 'max(celery_queue_length{queue="default"})') == 0

        rules = httpx.get(prometheus.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        loaded = {rule["name"] for group in rules for rule in group["rules"]}
        alerts = yaml.safe_load((PROM / "rules" / "alerts.yml").read_text())["groups"]
        assert {rule["alert"] for group in alerts for rule in group["rules"]} <= loaded
        assert all(rule["health"] != "err" for group in rules for rule in group["rules"])

        dashboard = json.loads((ROOT / "monitoring/grafana/trading-overview.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", "1m")
                prometheus.query(re.sub(r"\$venue", ".*", expr))  # asserts it evaluates
    finally:
        prometheus.stop()
        web.stop()

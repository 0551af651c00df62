"""The web process as it runs in production: gunicorn with 2 workers. /metrics sums every
worker's counters; no configured secret reaches a log line."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.processes import GunicornServer

pytestmark = pytest.mark.slow

REQUESTS = 100
SECRETS = {
    "DJANGO_SECRET_KEY": "django-secret-7a1f0b9e5c3d2a1f0b9e5c3d2a1f0b9e5c3d",
    "BINANCE_API_KEY": "binance-key-MX8XhL2qTyf0kJ",
    "BINANCE_API_SECRET": "binance-secret-Zq91xVv0rT55pLm",
    "BITMEX_API_SECRET": "bitmex-secret-Ka7u2HrR0oWq",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup):
    web = GunicornServer(tmp_path_factory.mktemp("gunicorn"), workers=2, **SECRETS)
    yield web
    web.stop()


def _requests_by_view(text: str, view: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "django_http_requests_total_by_view_transport_method_total"
                and sample.labels.get("view") == view
            ):
                total += sample.value
    return total


def _pids_that_counted(multiproc_dir) -> set[str]:
    """Which worker processes' own files hold a request count for the view."""
    pids = set()
    for path in multiproc_dir.glob("counter_*.db"):
        for key, count, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if "health-live" in key and "requests_total_by_view" in key and count > 0:
                pids.add(path.stem.split("_")[-1])
    return pids


def test_metrics_sum_the_requests_of_both_workers(server):
    server.wait_for_workers(2)
    before = _requests_by_view(httpx.get(server.url + "/metrics", timeout=30).text, "health-live")

    def hit(_):
        # a fresh connection each time, so both workers take requests
        return httpx.get(server.url + "/health/live", timeout=30).status_code

    made = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        # On a loaded machine one worker may take a whole round: go on until both have served.
        for _ in range(10):
            statuses = list(pool.map(hit, range(REQUESTS)))
            assert statuses == [200] * REQUESTS
            made += REQUESTS
            if len(_pids_that_counted(server.multiproc_dir)) == 2:
                break
    assert len(_pids_that_counted(server.multiproc_dir)) == 2

    text = httpx.get(server.url + "/metrics", timeout=30).text
    assert _requests_by_view(text, "health-live") - before == made


def test_a_known_secret_never_appears_in_any_log_line(server):
    for value in SECRETS.values():
        # A path that carries the secret is logged by the app and by django.request (404).
        httpx.get(f"{server.url}/nowhere/{value}", timeout=10)
        httpx.get(
            f"{server.url}/api/v1/account?signature={value}",
            headers={"Authorization": f"Bearer {value}"},
            timeout=10,
        )
    log_lines = server.wait_for(
        lambda: [ln for ln in server.log_lines() if ln.get("path", "").startswith("/nowhere/")],
        what="the request log lines",
    )
    assert len(log_lines) == len(SECRETS)
    assert all("[REDACTED]" in line["path"] for line in log_lines)
    output = server.output()
    assert "Not Found" in output  # django.request logged the 404s too
    for value in SECRETS.values():
        assert value not in output


def test_each_worker_freezes_the_heap_it_loaded_before_serving(server):
    server.wait_for_workers(2)

    def frozen_lines():
        lines = [line for line in server.log_lines() if "worker_gc_frozen" in json.dumps(line)]
        return lines if len(lines) >= 2 else None

    lines = server.wait_for(frozen_lines, what="both workers' worker_gc_frozen lines")
    counts = [int(json.dumps(line).split("worker_gc_frozen: ")[1].split(" ")[0]) for line in lines]
    assert all(count > 50_000 for count in counts), lines

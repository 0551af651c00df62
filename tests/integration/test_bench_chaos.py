"""The chaos run (bench/chaos.py, `make chaos`) on a small scale: 40 orders through the REST API
while the emulator injects 5xx, timeouts after accept and 429s, the Binance port goes down for
10 s, a Celery worker is SIGKILLed and Redis restarts; then every order is compared with the
emulator's ground truth. It runs as its own process with its own PostgreSQL and Redis (it
restarts Redis, which must not be the test run's), and must meet the zero targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench._harness import ROOT

pytestmark = pytest.mark.slow


def test_a_small_chaos_run_loses_nothing_and_duplicates_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "bench.chaos", "--orders", "40", "--rate", "4"]
    argv += ["--settle-seconds", "150", "--results", str(tmp_path)]
    run = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=420, check=False
    )
    output = run.stdout[-4000:] + run.stderr[-4000:]

    data = json.loads((tmp_path / "chaos.json").read_text())
    verdicts = {t["target"]: (t["measured"], t["verdict"]) for t in data["targets"]}
    assert verdicts["duplicates at the venue"] == (0, "PASS"), output
    assert verdicts["lost orders"] == (0, "PASS"), output
    assert verdicts["state mismatches"] == (0, "PASS"), output
    assert verdicts["unsettled orders"] == (0, "PASS"), output
    # reads are measured (not asserted: in so short a run the outage overlaps the Redis restart)
    assert "reads unavailable during the outage" in verdicts, output
    events = [e["what"] for e in data["results"]["timeline"]]
    for chaos in ("venue outage start", "worker-a SIGKILLed", "redis down", "redis back"):
        assert chaos in events, output
    assert sum(r["fired"] for v in data["results"]["faults_fired"].values() for r in v) > 0
    assert run.returncode in (0, 1), output  # 1: a target missed (asserted one by one above)

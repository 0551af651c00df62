"""A web worker imports the API and freezes its heap before its first request
(trading/warmup.py, called from deploy/gunicorn.conf.py's post_worker_init)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.fixtures.processes import ROOT, process_env
from tests.fixtures.services import RESULT_MARK, script_result

PROBE = textwrap.dedent(
    """
    import gc, json, sys, time
    import django
    django.setup()
    before = "orders.apis" in sys.modules
    from trading.warmup import warm_up_and_freeze
    frozen = warm_up_and_freeze()
    started = time.perf_counter()
    gc.collect()
    sys.stdout.write(MARK + json.dumps({
        "api_loaded_before": before,
        "api_loaded_after": "orders.apis" in sys.modules,
        "frozen": frozen,
        "tracked_after": len(gc.get_objects()),
        "full_collection_ms": (time.perf_counter() - started) * 1000,
    }) + chr(10))
    """
)


def test_it_imports_the_api_and_leaves_full_collections_almost_nothing_to_walk():
    # a fresh interpreter, as a gunicorn worker is after loading the WSGI application
    done = subprocess.run(
        [sys.executable, "-c", f"MARK = {RESULT_MARK!r}\n" + PROBE],
        cwd=ROOT,
        env=process_env(DJANGO_SETTINGS_MODULE="trading.settings"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = script_result(done.stdout)

    assert not result["api_loaded_before"] and result["api_loaded_after"]
    assert result["frozen"] > 50_000, result  # the loaded heap (~120 k objects)
    assert result["tracked_after"] < result["frozen"] / 20, result

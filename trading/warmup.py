"""Readies a web worker before its first request and keeps the garbage collector off the heap
it loaded (deploy/gunicorn.conf.py calls warm_up_and_freeze() in each worker).

A gunicorn worker imports the URLconf, the API views, serializers and their dependencies on its
first requests; those ~120 k long-lived objects (and the caches the first requests fill) then
sit in the oldest GC generation, and every full collection walks them all: 40-55 ms with the
worker stopped, about once per 20 s of accepts at 200 orders/s (the ~50-70 ms stall seen once
per run in every gunicorn benchmark). Importing them up front and moving everything alive to
the permanent generation (gc.freeze) leaves full collections only the objects made since.
"""

from __future__ import annotations

import gc


def warm_up_and_freeze() -> int:
    """Imports what the first request would (the URLconf and every view it names), collects,
    then freezes every object alive. Returns how many objects were frozen."""
    from django.urls import get_resolver

    _load(get_resolver().url_patterns)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _load(patterns) -> None:
    """Walks the URL patterns: included URLconfs are imported when their patterns are read."""
    for pattern in patterns:
        nested = getattr(pattern, "url_patterns", None)
        if nested is not None:
            _load(nested)

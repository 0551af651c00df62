"""The request metrics middleware (django-prometheus's, labelled children cached per process)
counts every request, the first of a label set and the later ones alike."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import resolve

from tests.integration.test_metrics import scrape, value

pytestmark = pytest.mark.django_db

PATH = "/api/v1/instruments"


def test_each_request_is_counted_under_its_labels_also_once_cached(api, instruments):
    view = {"view": resolve(PATH).view_name, "method": "GET"}
    series = {
        "200": (
            "django_http_responses_total_by_status_view_method_total",
            {**view, "status": "200"},
        ),
        "401": (
            "django_http_responses_total_by_status_view_method_total",
            {**view, "status": "401"},
        ),
        "requests": (
            "django_http_requests_total_by_view_transport_method_total",
            {**view, "transport": "http"},
        ),
        "latency": ("django_http_requests_latency_seconds_by_view_method_count", view),
    }
    before = scrape()
    for _ in range(3):
        assert api.get(PATH).status_code == 200
    assert Client().get(PATH).status_code == 401
    after = scrape()

    moved = {
        k: value(after, n, **labels) - value(before, n, **labels)
        for k, (n, labels) in series.items()
    }
    assert moved == {"200": 3, "401": 1, "requests": 4, "latency": 4}

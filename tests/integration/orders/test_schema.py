"""The OpenAPI schema documents the order endpoints and validates."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/v1/orders:",
        "/api/v1/orders/active:",
        "/api/v1/orders/{order_id}:",
        "/api/v1/orders/{order_id}/cancel:",
        "/api/v1/orders/{order_id}/events:",
        "/api/v1/instruments:",
    ):
        assert path in text, path
    assert "Idempotency-Key" in text and "If-Match" in text


def test_the_schema_endpoint_serves_json(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    create = schema["paths"]["/api/v1/orders"]["post"]
    assert set(create["responses"]) >= {"202", "400", "422"}
    assert schema["components"]["schemas"]["Order"]["properties"]["quantity"]["type"] == "string"

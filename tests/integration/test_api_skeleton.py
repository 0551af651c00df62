"""One error format everywhere; the schema and the docs are served."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _assert_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_unknown_api_path_is_a_json_404():
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    _assert_error_shape(response.json(), "not_found")


def test_wrong_method_is_a_json_405(api):
    response = api.delete("/api/v1/account")
    assert response.status_code == 405
    _assert_error_shape(response.json(), "method_not_allowed")


def test_malformed_json_is_a_parse_error(api):
    response = api.generic("POST", "/api/v1/account", "{not json", content_type="application/json")
    assert response.status_code in (400, 405)
    assert response.json()["error"]["code"] in ("parse_error", "method_not_allowed")


def test_unhandled_errors_are_a_json_500(rf):
    from trading.errors import handler500

    response = handler500(rf.get("/api/v1/orders"))
    assert response.status_code == 500
    import json

    _assert_error_shape(json.loads(response.content), "internal_error")


def test_exception_handler_wraps_unexpected_exceptions():
    from trading.errors import api_exception_handler

    response = api_exception_handler(RuntimeError("boom"), {})
    assert response.status_code == 500
    _assert_error_shape(response.data, "internal_error")
    assert "boom" not in str(response.data)


def test_domain_errors_keep_their_code_and_details():
    from trading.errors import Conflict, api_exception_handler

    response = api_exception_handler(
        Conflict("Order is FILLED.", code="illegal_transition", details={"state": "FILLED"}), {}
    )
    assert response.status_code == 409
    assert response.data["error"] == {
        "code": "illegal_transition",
        "message": "Order is FILLED.",
        "details": {"state": "FILLED"},
    }


def test_validation_errors_name_the_field():
    from rest_framework.exceptions import ValidationError

    from trading.errors import api_exception_handler

    response = api_exception_handler(ValidationError({"price": ["must be a multiple of 0.1"]}), {})
    assert response.status_code == 400
    body = response.data["error"]
    assert body["code"] == "validation_error"
    assert body["message"] == "price: must be a multiple of 0.1"
    assert body["details"] == {"price": ["must be a multiple of 0.1"]}


def test_schema_and_docs_are_served():
    client = Client()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/account" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_admin_404_stays_html(admin_client):
    response = admin_client.get("/admin/orders/account/999999/change/")
    assert response.status_code in (302, 404)


def test_correlation_id_is_echoed_or_minted():
    client = Client()
    echoed = client.get("/health/live", HTTP_X_REQUEST_ID="req-abc.123")
    assert echoed["X-Request-ID"] == "req-abc.123"
    minted = client.get("/health/live", HTTP_X_REQUEST_ID="bad id with spaces")
    assert minted["X-Request-ID"] != "bad id with spaces"
    assert len(minted["X-Request-ID"]) == 32

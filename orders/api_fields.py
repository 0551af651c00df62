"""Serializer building blocks shared by the order APIs: decimal strings, strict bodies, errors."""

from __future__ import annotations

import threading
from decimal import Decimal, InvalidOperation

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from orders.models.fields import DECIMAL_PLACES, MAX_DIGITS
from orders.validation import fmt

DECIMAL_SCHEMA = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^\d+(\.\d+)?$",
    "description": "A decimal number as a JSON string (never a JSON number: floats lose precision).",
}


@extend_schema_field(DECIMAL_SCHEMA)
class DecimalString(serializers.Field):
    """A positive decimal sent as a string; JSON numbers are refused. Rendered without exponent."""

    default_error_messages = {
        "not_string": 'Send decimals as JSON strings such as "0.010"; JSON numbers lose precision.',
        "invalid": "{value!r} is not a decimal number.",
        "positive": "Must be greater than zero.",
        "precision": f"At most {DECIMAL_PLACES} decimal places and "
        f"{MAX_DIGITS - DECIMAL_PLACES} integer digits.",
    }

    def to_internal_value(self, data) -> Decimal:
        if not isinstance(data, str):
            self.fail("not_string")
        try:
            value = Decimal(data.strip())
        except InvalidOperation:
            self.fail("invalid", value=data)
        if not value.is_finite():
            self.fail("invalid", value=data)
        if value <= 0:
            self.fail("positive")
        _sign, digits, exponent = value.normalize().as_tuple()
        if -exponent > DECIMAL_PLACES or len(digits) + exponent > MAX_DIGITS - DECIMAL_PLACES:
            self.fail("precision")
        return value

    def to_representation(self, value) -> str | None:
        return None if value is None else fmt(Decimal(value))


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo such as "qty" must not be silently dropped).

    Its fields are built once per class and thread and shared by every instance: validation only
    reads them, and DRF's deep copy of every declared field per instance costs a request about
    0.2 ms. A subclass must not keep per-request state in its fields (none of ours do).
    """

    _shared = threading.local()

    @property
    def fields(self):
        cache = self._shared.__dict__.setdefault("fields", {})
        fields = cache.get(type(self))
        if fields is None:
            fields = cache[type(self)] = super().fields
        return fields

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


@extend_schema_serializer(component_name="Error")
class PageParams(serializers.Serializer):
    """Query parameters every list shares: the cursor from `next` and the page size."""

    cursor = serializers.CharField(required=False, help_text="From the previous page's next.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    @extend_schema_serializer(component_name="ErrorBody")
    class Body(serializers.Serializer):
        code = serializers.CharField(help_text="Stable machine-readable code.")
        message = serializers.CharField(help_text="For humans; names the field and rule.")
        details = serializers.DictField(help_text="Field errors; `rule` names the rule broken.")

    error = Body()


def page_url(request, cursor: str | None) -> str | None:
    """The URL of the next page: the same query with `cursor` replaced."""
    if cursor is None:
        return None
    query = request.query_params.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

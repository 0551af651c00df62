"""Column types shared by the order models: money and quantities are NUMERIC, never float."""

from __future__ import annotations

from django.db import models

# NUMERIC(36, 18): 18 integer digits and 18 decimals cover every venue's prices and sizes.
MAX_DIGITS = 36
DECIMAL_PLACES = 18


class MoneyField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "orders.models.fields.MoneyField", args, kwargs

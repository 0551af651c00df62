"""Template filters of the operators' console."""

from __future__ import annotations

from decimal import Decimal

from django import template

from orders.validation import fmt

register = template.Library()


@register.filter
def plain(value):
    """A Decimal without its column's trailing zeros (1.000000000000000000 -> 1)."""
    return fmt(value) if isinstance(value, Decimal) else value

"""Rate budgets per venue API (placeholder: cooldown and ban handling only; see issue 6)."""

from __future__ import annotations

from django.conf import settings

from reliability.runtime import runtime


class Budget:
    def __init__(self, venue_api: str):
        self.venue_api = venue_api

    def acquire(self, *, weight: int, orders: int, priority, deadline: float) -> None:
        return None

    def observe(self, *, headers=None, status: int | None = None, retry_after=None):
        """Correct the budget from a response; returns the end of a ban (418), else None."""
        if status == 418:
            wait = retry_after or settings.RELIABILITY_RATE.ban_default_seconds
            return runtime().clock() + float(wait)
        return None


_budgets: dict[str, Budget] = {}


def budget_for(venue_api: str) -> Budget:
    budget = _budgets.get(venue_api)
    if budget is None:
        budget = _budgets[venue_api] = Budget(venue_api)
    return budget


def forget_budgets() -> None:
    _budgets.clear()

"""Operator actions on breakers (admin board, manage.py breakers): one audited entry point."""

from __future__ import annotations

from reliability.breaker import breaker_for
from reliability.transitions import BreakerState

ACTIONS = ("force_open", "force_close", "reset")


def breaker_operate(*, venue_api: str, action: str, by: str, reason: str) -> BreakerState:
    """Force-open, force-close or reset a venue API's shared breaker, on behalf of `by`.

    Stored as a CircuitEvent with the operator and reason. Raises ValueError (bad arguments),
    IllegalTransition (e.g. force-opening a forced-open breaker) or BreakerStoreUnavailable
    (Redis down: the action could not reach the other processes)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if not reason.strip():
        raise ValueError("operator actions need a reason")
    breaker = breaker_for(venue_api)
    return getattr(breaker, action)(by=by, reason=reason.strip())

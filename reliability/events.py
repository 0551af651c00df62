"""What every breaker transition leaves behind: a log line, metrics and a CircuitEvent row."""

from __future__ import annotations

import structlog

from monitoring.metrics import BREAKER_STATE, BREAKER_TRANSITIONS
from reliability.transitions import GAUGE_VALUE, BreakerState

log = structlog.get_logger(__name__)


def publish_state(venue_api: str, state: BreakerState) -> None:
    BREAKER_STATE.labels(venue=venue_api).set(GAUGE_VALUE[BreakerState(state)])


def record_transition(
    venue_api: str,
    transition: tuple[str, str, str],
    *,
    actor: str = "system",
    reason: str = "",
    local: bool = False,
    details: dict | None = None,
) -> None:
    from_state, to_state, trigger = transition
    details = details or {}
    log.warning(
        "breaker.transition",
        venue_api=venue_api,
        from_state=from_state,
        to_state=to_state,
        trigger=trigger,
        actor=actor,
        reason=reason,
        local=local,
        **details,
    )
    BREAKER_TRANSITIONS.labels(venue=venue_api, to_state=to_state).inc()
    publish_state(venue_api, BreakerState(to_state))
    _store(venue_api, from_state, to_state, trigger, actor, reason, local, details)


def _store(venue_api, from_state, to_state, trigger, actor, reason, local, details) -> None:
    from django.db import DatabaseError

    from reliability.models import CircuitEvent

    try:
        CircuitEvent.objects.create(
            venue_api=venue_api,
            from_state=from_state,
            to_state=to_state,
            trigger=trigger,
            actor=actor[:150],
            reason=reason,
            local=local,
            details=details,
        )
    except DatabaseError as exc:  # the history must never break a venue call
        log.error("breaker.event_not_stored", venue_api=venue_api, error=str(exc)[:200])

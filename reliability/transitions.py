"""The breaker's states and its one table of legal transitions (resilience4j style).

Every state change, in Redis (the Lua script is generated from this table) and in the local
fallback, is checked against TRANSITIONS; anything else raises IllegalTransition.
"""

from __future__ import annotations

import enum


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"  # operator: refuse every call until reset / force-close
    FORCED_CLOSED = "forced_closed"  # operator: let every call through, never trip


# Values of the circuit_breaker_state gauge (monitoring/metrics.py documents the same).
GAUGE_VALUE = {
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
    BreakerState.FORCED_OPEN: 3,
    BreakerState.FORCED_CLOSED: 4,
}

C, OP, H = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
FO, FC = BreakerState.FORCED_OPEN, BreakerState.FORCED_CLOSED

# (from, to) -> the triggers allowed to make that move.
#   failures / failure_rate: the closed breaker's threshold was reached (slow calls count)
#   recovery_timeout: the open breaker's wait is over, the next call probes
#   probe_success / probe_failure: the half-open probes' verdict
#   ban: the venue banned us (HTTP 418): open until the ban ends (extends an open breaker)
#   force_open / force_close / reset: operator actions (admin board, manage.py breakers)
TRANSITIONS: dict[tuple[BreakerState, BreakerState], frozenset[str]] = {
    (C, OP): frozenset({"failures", "failure_rate", "ban"}),
    (C, C): frozenset({"reset"}),
    (C, FO): frozenset({"force_open"}),
    (C, FC): frozenset({"force_close"}),
    (OP, H): frozenset({"recovery_timeout"}),
    (OP, OP): frozenset({"ban"}),
    (OP, C): frozenset({"reset"}),
    (OP, FO): frozenset({"force_open"}),
    (OP, FC): frozenset({"force_close"}),
    (H, C): frozenset({"probe_success", "reset"}),
    (H, OP): frozenset({"probe_failure", "ban"}),
    (H, FO): frozenset({"force_open"}),
    (H, FC): frozenset({"force_close"}),
    (FO, C): frozenset({"reset"}),
    (FO, FC): frozenset({"force_close"}),
    (FC, C): frozenset({"reset"}),
    (FC, FO): frozenset({"force_open"}),
}

OPERATOR_ACTIONS = {
    "force_open": BreakerState.FORCED_OPEN,
    "force_close": BreakerState.FORCED_CLOSED,
    "reset": BreakerState.CLOSED,
}


class IllegalTransition(Exception):
    def __init__(self, from_state: str, to_state: str, trigger: str):
        self.from_state, self.to_state, self.trigger = from_state, to_state, trigger
        super().__init__(f"illegal breaker transition {from_state} -> {to_state} ({trigger})")


def check(from_state: str, to_state: str, trigger: str) -> None:
    allowed = TRANSITIONS.get((BreakerState(from_state), BreakerState(to_state)), frozenset())
    if trigger not in allowed:
        raise IllegalTransition(from_state, to_state, trigger)


def lua_table() -> str:
    """TRANSITIONS as a Lua table literal: ALLOWED["from>to"][trigger] = true."""
    rows = []
    for (frm, to), triggers in sorted(TRANSITIONS.items()):
        inner = ", ".join(f"{t} = true" for t in sorted(triggers))
        rows.append(f'["{frm}>{to}"] = {{{inner}}}')
    return "{\n  " + ",\n  ".join(rows) + "\n}"

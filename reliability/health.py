"""What the health endpoints say about the reliability layer (wired in by ReliabilityConfig)."""

from __future__ import annotations

from reliability.breaker import all_breakers


def snapshot() -> dict:
    """Each venue API's breaker, and whether this process runs on local fallback state.

    ok is False only when the shared state is degraded (Redis unreachable: breakers and budgets
    are per process). An open breaker is a venue's problem, reported here, not this process's.
    """
    breakers = all_breakers()
    degraded = any(b["degraded"] for b in breakers.values())
    return {
        "ok": not degraded,
        "status": "degraded" if degraded else "ok",
        "degraded": degraded,
        "breakers": {
            api: {
                k: b[k]
                for k in ("state", "allows_calls", "consecutive_failures", "opened_at", "retry_at")
            }
            for api, b in breakers.items()
        },
    }

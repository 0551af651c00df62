"""Dead man's switch: while the platform is healthy it keeps re-arming the venues' own
cancel-everything timers, so if it dies (or cannot reach a venue) the venue cancels the open
orders by itself after DEAD_MAN_SWITCH_SECONDS.

- Binance USDⓈ-M / COIN-M: `POST countdownCancelAll` per symbol, for every symbol with an
  active order of that venue API.
- BitMEX: `POST /order/cancelAllAfter`, account-wide.
- Binance spot has no such timer: nothing is armed.

Beat re-arms every DEAD_MAN_SWITCH_REARM_SECONDS (well inside the timeout); a venue whose
breaker refuses calls is not re-armed, so its timer runs out as intended. Off when
DEAD_MAN_SWITCH_SECONDS is 0 (the default).
"""

from __future__ import annotations

import structlog
from django.conf import settings

from orders import lifecycle
from orders.models import Order
from reliability.errors import VenueError

log = structlog.get_logger(__name__)


def deadman_arm(*, venue_api: str) -> list[str]:
    """Re-arms the venue API's timers; returns the symbols armed ("*" for account-wide)."""
    from exchanges.registry import adapter_for
    from reliability.breaker import breaker_for

    seconds = settings.DEAD_MAN_SWITCH_SECONDS
    arm = getattr(adapter_for(venue_api), "cancel_all_after", None)
    if not seconds or arm is None:
        return []
    if not breaker_for(venue_api).allows_calls():
        log.warning("dead_man_switch_not_rearmed", venue=venue_api, reason="breaker open")
        return []
    targets = ["*"] if venue_api == "bitmex" else _active_symbols(venue_api)
    armed = []
    for symbol in targets:
        try:
            arm(seconds=seconds, venue_symbol=None if symbol == "*" else symbol)
        except VenueError as exc:
            log.warning(
                "dead_man_switch_arm_failed", venue=venue_api, symbol=symbol, error=str(exc)
            )
            continue
        armed.append(symbol)
    log.info("dead_man_switch_armed", venue=venue_api, symbols=armed, seconds=seconds)
    return armed


def _active_symbols(venue_api: str) -> list[str]:
    rows = Order.objects.filter(venue_api=venue_api, state__in=lifecycle.ACTIVE_STATES)
    return sorted(set(rows.values_list("instrument__venue_symbol", flat=True)))

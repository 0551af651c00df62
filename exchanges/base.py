"""The interface every venue adapter implements (one per venue API).

Adapters take venue symbols (Instrument.venue_symbol), return unified types, and raise only
reliability.errors.VenueError subclasses, each already classified. Every HTTP exchange goes
through reliability.guard.guarded_call. Adapters never import `orders`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from exchanges.types import AmendOrder, InstrumentInfo, PlaceOrder, VenueFill, VenueOrder


class VenueAdapter(Protocol):
    venue_api: str  # "binance.spot" | "binance.usdm" | "binance.coinm" | "bitmex"

    def place_order(self, request: PlaceOrder) -> VenueOrder: ...

    def amend_order(self, request: AmendOrder) -> VenueOrder: ...

    def cancel_order(
        self,
        *,
        venue_symbol: str,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder: ...

    def get_order(
        self,
        *,
        venue_symbol: str,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder | None:
        """None means the venue says it does not know the order (proven absent)."""

    def open_orders(self, *, venue_symbol: str | None = None) -> list[VenueOrder]: ...

    def orders_between(
        self, *, venue_symbol: str, start: datetime, end: datetime
    ) -> list[VenueOrder]:
        """All orders in [start, end), walking the venue's range limits."""

    def fills(
        self,
        *,
        venue_symbol: str,
        venue_order_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[VenueFill]: ...

    def instruments(self) -> list[InstrumentInfo]: ...

    def server_time(self) -> datetime: ...

    def ping(self, *, operation: str = "market_data") -> float:
        """Round-trip seconds of the venue's cheapest public call (weight 1). operation
        "probe": one attempt, never retried (reliability.detection's confirmation pings)."""

    def close(self) -> None: ...

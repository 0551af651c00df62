"""What an adapter is built from. Read from Django settings by exchanges.registry; tests build
adapters from it directly. Keys and secrets never appear in repr() (so never in logs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from exchanges.http import HttpSettings


@dataclass(frozen=True)
class VenueConfig:
    venue_api: str
    base_url: str
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
    http: HttpSettings = field(default_factory=HttpSettings)
    # Binance: milliseconds a signed request stays valid, and seconds between clock re-syncs.
    recv_window_ms: int = 5000
    time_sync_seconds: float = 300.0
    # BitMEX: seconds from signing until api-expires.
    expires_seconds: int = 10

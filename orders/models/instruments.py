"""Tradable instruments, copied from each venue's own instrument endpoint.

Field names mirror exchanges.types.InstrumentInfo so a sync is a straight copy. Quantities are
in the venue's order unit (base asset for spot/linear, contracts for inverse); contract_size
says what one unit is (USD per contract for coin-margined and XBTUSD).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from exchanges.types import MarketType

from .fields import MoneyField

VENUES = ("binance", "bitmex")


def venue_of(venue_api: str) -> str:
    """binance.usdm -> binance, bitmex -> bitmex."""
    return venue_api.split(".", 1)[0]


class Instrument(models.Model):
    class Venue(models.TextChoices):
        BINANCE = "binance"
        BITMEX = "bitmex"

    class VenueApi(models.TextChoices):
        BINANCE_SPOT = "binance.spot"
        BINANCE_USDM = "binance.usdm"
        BINANCE_COINM = "binance.coinm"
        BITMEX = "bitmex"

    MarketType = models.TextChoices("MarketType", [(m.value, m.value) for m in MarketType])

    venue = models.CharField(max_length=16, choices=Venue.choices)
    venue_api = models.CharField(max_length=16, choices=VenueApi.choices)
    venue_symbol = models.CharField(max_length=32)  # BTCUSDT, BTCUSD_PERP, XBTUSD, XBTZ25 ...
    symbol = models.CharField(max_length=48)  # unified (ccxt): BTC/USDT:USDT-251226 ...
    base = models.CharField(max_length=16)
    quote = models.CharField(max_length=16)
    settle = models.CharField(max_length=16, null=True, blank=True)  # None for spot
    market_type = models.CharField(max_length=8, choices=MarketType.choices)
    expiry = models.DateTimeField(null=True, blank=True)  # delivery contracts only
    tick_size = MoneyField()
    step_size = MoneyField()
    min_qty = MoneyField()
    min_notional = MoneyField(default=0)
    contract_size = MoneyField(default=1)
    max_qty = MoneyField(null=True, blank=True)
    active = models.BooleanField(default=True)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["venue_api", "venue_symbol"], name="instrument_unique_venue_symbol"
            ),
            # One tradable row per unified symbol and venue; expired contracts stay, inactive.
            models.UniqueConstraint(
                fields=["venue", "symbol"],
                condition=Q(active=True),
                name="instrument_unique_active_symbol",
            ),
        ]
        indexes = [
            models.Index(fields=["base", "market_type"], name="instrument_base_market"),
            models.Index(fields=["symbol"], name="instrument_symbol"),
        ]

    def __str__(self) -> str:
        return f"{self.venue_api}:{self.venue_symbol} ({self.symbol})"

    @property
    def is_inverse(self) -> bool:
        return self.market_type == MarketType.INVERSE

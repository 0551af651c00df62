"""Orders, their append-only history, fills and the venue calls made for them.

Only orders/lifecycle.py assigns Order.state (compare-and-set on `version`); see its table.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from exchanges.types import OrderType, Side, TimeInForce

from .accounts import Account
from .fields import MoneyField
from .instruments import Instrument


class OrderState(models.TextChoices):
    PENDING_NEW = "PENDING_NEW"
    SUBMIT_UNKNOWN = "SUBMIT_UNKNOWN"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_AMEND = "PENDING_AMEND"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class Actor(models.TextChoices):
    API = "api"
    WORKER = "worker"
    RECONCILER = "reconciler"
    OPERATOR = "operator"


def _choices(enum_cls) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum_cls]


# States that can still change at a venue (not terminal); kept here for the partial index.
_OPEN_STATES = ("PENDING_NEW", "SUBMIT_UNKNOWN", "NEW", "PARTIALLY_FILLED")
_OPEN_STATES += ("PENDING_CANCEL", "PENDING_AMEND")


class Order(models.Model):
    class CancelSource(models.TextChoices):
        ACK = "ack"  # the venue acknowledged our cancel request
        RECONCILE = "reconcile"  # reconciliation found the order canceled

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    venue = models.CharField(max_length=16)
    venue_api = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=_choices(Side))
    type = models.CharField(max_length=8, choices=_choices(OrderType))
    time_in_force = models.CharField(
        max_length=10, choices=_choices(TimeInForce), null=True, blank=True
    )
    quantity = MoneyField()
    price = MoneyField(null=True, blank=True)  # None for market orders
    filled_quantity = MoneyField(default=0)
    average_price = MoneyField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=OrderState.choices, default=OrderState.PENDING_NEW
    )
    # Minted at accept, sent unchanged on every attempt (Binance newClientOrderId, BitMEX clOrdID).
    client_order_id = models.CharField(max_length=36, unique=True)
    venue_order_id = models.CharField(max_length=64, null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # SHA-256 of the normalised create request, to tell a replay from a reused key.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    failover_venues = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    # Optimistic concurrency: every transition is `UPDATE ... WHERE version = <read>`.
    version = models.PositiveIntegerField(default=1)
    reject_reason = models.TextField(blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_confirmed_at = models.DateTimeField(null=True, blank=True)
    cancel_confirm_source = models.CharField(
        max_length=16, choices=CancelSource.choices, blank=True
    )
    # The target of an amend in flight (PENDING_AMEND); cleared when the venue answers.
    amend_quantity = MoneyField(null=True, blank=True)
    amend_price = MoneyField(null=True, blank=True)
    # For the outcome-unknown resolver: give up resending after submit_deadline.
    submit_deadline = models.DateTimeField(null=True, blank=True)
    unknown_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_unique_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0), name="order_filled_not_negative"
            ),
        ]
        indexes = [
            # Keyset pagination of the list, and each list filter within an account.
            models.Index(fields=["account", "created_at", "id"], name="order_account_created"),
            models.Index(
                fields=["account", "state", "created_at", "id"], name="order_account_state"
            ),
            models.Index(
                fields=["account", "venue", "created_at", "id"], name="order_account_venue"
            ),
            models.Index(
                fields=["account", "instrument", "created_at", "id"],
                name="order_account_instrument",
            ),
            # Admin (all accounts): newest first, by venue, by venue order id.
            models.Index(fields=["created_at", "id"], name="order_created"),
            models.Index(fields=["venue", "created_at"], name="order_venue_created"),
            models.Index(fields=["venue_order_id"], name="order_venue_order_id"),
            # Admin list filtered by any state (rare terminal ones too: FAILED, REJECTED) and
            # the console's capped per-state counts.
            models.Index(fields=["state", "created_at", "id"], name="order_state_created"),
            # Workers and the reconciler sweep open orders by state; terminal rows stay out.
            models.Index(
                fields=["state", "updated_at"],
                condition=Q(state__in=_OPEN_STATES),
                name="order_open_by_state",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.client_order_id} {self.state}"


class OrderEvent(models.Model):
    """One row per transition (and per operator note); PostgreSQL refuses UPDATE and DELETE."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    sequence = models.PositiveIntegerField()  # 1, 2, ... per order
    from_state = models.CharField(max_length=16, choices=OrderState.choices, null=True)
    to_state = models.CharField(max_length=16, choices=OrderState.choices)
    reason = models.TextField()
    actor = models.CharField(max_length=16, choices=Actor.choices)
    correlation_id = models.CharField(max_length=64, null=True, blank=True)
    venue_payload = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="order_event_sequence")
        ]
        indexes = [
            models.Index(fields=["correlation_id"], name="order_event_correlation"),
            # The console's "latest reconciliation corrections" and "latest operator actions"
            # (the rare actors only: api and worker events stay out of this index).
            models.Index(
                fields=["actor", "created_at", "id"],
                condition=Q(actor__in=("reconciler", "operator")),
                name="order_event_actor_created",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.from_state}->{self.to_state} ({self.actor})"


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    venue_api = models.CharField(max_length=16)
    trade_id = models.CharField(max_length=64)
    quantity = MoneyField()
    price = MoneyField()
    fee = MoneyField(default=0)
    fee_asset = models.CharField(max_length=16, null=True, blank=True)
    ts = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["venue_api", "trade_id"], name="fill_unique_trade")
        ]

    def __str__(self) -> str:
        return f"fill {self.trade_id} {self.quantity}@{self.price}"


class OrderAttempt(models.Model):
    """A venue call, written before it is sent (write-ahead) and completed after."""

    class Operation(models.TextChoices):
        SUBMIT = "submit"
        AMEND = "amend"
        CANCEL = "cancel"
        QUERY = "query"

    class Outcome(models.TextChoices):
        PENDING = "pending"  # written, maybe sent, no answer recorded yet
        OK = "ok"
        REJECTED = "rejected"
        RETRYABLE = "retryable"
        OUTCOME_UNKNOWN = "outcome_unknown"
        FATAL = "fatal"
        NOT_SENT = "not_sent"  # refused before sending (breaker open, rate cooldown)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="attempts")
    operation = models.CharField(max_length=8, choices=Operation.choices)
    venue_api = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=128)
    client_order_id = models.CharField(max_length=36)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_class = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, null=True, blank=True)
    request = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)  # no secrets
    response = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        indexes = [
            models.Index(fields=["order", "started_at"], name="attempt_order_started"),
            models.Index(
                fields=["outcome", "started_at"],
                condition=Q(outcome__in=("pending", "outcome_unknown")),
                name="attempt_unresolved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.venue_api} {self.outcome}"

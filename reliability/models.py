from __future__ import annotations

from django.db import models
from django.utils import timezone


class CircuitEvent(models.Model):
    """One breaker transition or operator action: the admin's history and the audit trail."""

    venue_api = models.CharField(max_length=32, db_index=True)
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    # failures, failure_rate, recovery_timeout, probe_success, probe_failure, ban,
    # force_open, force_close, reset, restore (see reliability/transitions.py)
    trigger = models.CharField(max_length=32)
    actor = models.CharField(max_length=150, default="system")  # "system" or the operator
    reason = models.TextField(blank=True, default="")
    # True when the move happened in a process's local fallback breaker (Redis unreachable).
    local = models.BooleanField(default=False)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("operate_breakers", "Can force-open, force-close and reset circuit breakers"),
        ]

    def __str__(self) -> str:
        return f"{self.venue_api}: {self.from_state} -> {self.to_state} ({self.trigger})"


class BreakerBoard(models.Model):
    """No table: gives the admin's breaker board its place and URL under Reliability."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "breaker board"
        verbose_name_plural = "breaker board"

    def __str__(self) -> str:
        return "breaker board"

"""Trading accounts and their API keys.

A key is shown once, when it is made; only its SHA-256 digest is stored. Keys are 256-bit random
strings, so a fast digest is safe here (there is nothing to brute-force), and lookups stay O(1).
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

SCOPES = ("read", "trade")
KEY_PREFIX = "tk_"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class Account(models.Model):
    """A trading client (desk); every order and key belongs to one."""

    name = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    # The first characters of the key, shown in the admin to tell keys apart.
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=16), default=list)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.account})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @classmethod
    def mint(cls) -> str:
        return KEY_PREFIX + secrets.token_urlsafe(32)

"""Writes for accounts and API keys."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from orders.models import Account, ApiKey
from orders.models.accounts import SCOPES, hash_key


class InvalidScope(ValueError):
    pass


@transaction.atomic
def api_key_create(*, account_name: str, scopes: list[str], label: str = "") -> tuple[ApiKey, str]:
    """Creates the account if needed and a key for it; returns the row and the raw key (once)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidScope(
            f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {scopes}"
        )
    account, _ = Account.objects.get_or_create(name=account_name)
    raw = ApiKey.mint()
    key = ApiKey.objects.create(
        account=account,
        prefix=raw[:10],
        digest=hash_key(raw),
        scopes=sorted(set(scopes)),
        label=label,
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    from orders.authentication import forget_api_keys

    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_api_keys(key.digest)  # the API refuses the key from the next request on

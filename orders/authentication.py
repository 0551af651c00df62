"""`Authorization: Bearer <key>` authentication for the REST API."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from orders.models import ApiKey
from orders.models.accounts import hash_key

# last_used_at is refreshed at most this often, so reads do not write on every request.
_TOUCH_EVERY = timedelta(minutes=1)


class ApiClient:
    """request.user for API calls: the key and the account it belongs to."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.account = key.account
        self.account_id = key.account_id

    def has_scope(self, scope: str) -> bool:
        return self.key.has_scope(scope)

    def __str__(self) -> str:
        return f"api:{self.account.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed(
                "Use the header 'Authorization: Bearer <api key>'."
            )
        try:
            key = ApiKey.objects.select_related("account").get(digest=hash_key(parts[1]))
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown API key.") from None
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword

"""Account isolation: every API read and write goes through these helpers."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404


def for_account(queryset: QuerySet, request_or_account) -> QuerySet:
    """Restricts a queryset to the caller's account (a request, an ApiClient or an Account)."""
    from orders.models import Account

    if isinstance(request_or_account, Account):
        return queryset.filter(account_id=request_or_account.pk)
    account_id = getattr(request_or_account, "account_id", None)
    if account_id is None:
        user = getattr(request_or_account, "user", None)
        account_id = getattr(user, "account_id", None)
    if account_id is None:
        raise PermissionError("no account bound to this request")
    return queryset.filter(account_id=account_id)


def get_owned(queryset: QuerySet, request_or_account, **lookup):
    """The object if it belongs to the caller's account; 404 otherwise (never 403: no leaking)."""
    try:
        return for_account(queryset, request_or_account).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None

"""Reads of the order domain: lists with keyset pagination, one order, events, active orders."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from orders import cache as active_cache
from orders import lifecycle, scoping
from orders.errors import OrderInvalid
from orders.models import Account, Instrument, Order, OrderEvent


@dataclass(frozen=True)
class Page:
    results: list
    next_cursor: str | None


# --- cursors -----------------------------------------------------------------------------------


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Iterable[str]) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, dict) or set(values) != set(keys):
            raise ValueError(cursor)
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise OrderInvalid("cursor", "is not a cursor this API returned", rule="cursor") from None


def _page(qs: QuerySet, limit: int, cursor_of: Callable[[Any], dict]) -> Page:
    """One page of an ordered queryset; the cursor points after its last row."""
    rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    return Page(rows, encode_cursor(cursor_of(rows[-1])))


def _int_position(cursor: str, key: str) -> int:
    value = decode_cursor(cursor, (key,))[key]
    if not isinstance(value, int):
        raise OrderInvalid("cursor", "is not a cursor this API returned", rule="cursor")
    return value


# --- orders --------------------------------------------------------------------------------------


def order_get(*, account: Account, order_id: int) -> Order:
    """The caller's order, or Http404 (another account's order is not found, not forbidden)."""
    return scoping.get_owned(Order.objects.select_related("instrument"), account, pk=order_id)


def order_list(
    *,
    account: Account,
    ids: list[int] | None = None,
    states: list[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    exchange: str | None = None,
    symbol: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page:
    """Newest first, keyset-paginated on (created_at, id); each filter has an index.

    Every page reads about `limit` index entries, whatever the table holds: the cursor is an
    index condition (not a filter over the newer rows), and a filter on several states or
    instruments reads each one's index range in order and merges them (an IN list would make
    PostgreSQL fetch and sort every matching row to find the newest). The results are
    OrderRows: read-only values, not model instances.
    """
    qs = scoping.for_account(Order.objects.all(), account)
    if ids:
        qs = qs.filter(pk__in=ids)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    if exchange:
        qs = qs.filter(venue=exchange)
    instrument_ids = None
    if symbol:
        instrument_ids = list(Instrument.objects.filter(symbol=symbol).values_list("pk", flat=True))
    if cursor:
        at, last_id = _keyset_position(cursor)
        # (created_at, id) < (at, last_id), written so that created_at <= at bounds the scan
        qs = qs.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(id__lt=last_id))
    rows = _newest(qs, states or [], instrument_ids, limit + 1, merge=not ids)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor({"t": last.created_at.isoformat(), "id": last.pk})
    return Page(rows, next_cursor)


_NEWEST_FIRST = ("-created_at", "-id")


class InstrumentName(NamedTuple):
    symbol: str
    venue_symbol: str


class OrderRow(NamedTuple):
    """An order as a list shows it (the API's Order shape): read-only, built from one row of
    values without a model instance; Django's model machinery cost half of a page's CPU.
    Its attributes are named as Order's, so the API renders either."""

    id: int
    client_order_id: str
    venue: str
    venue_api: str
    side: str
    type: str
    time_in_force: str | None
    quantity: Decimal
    price: Decimal | None
    failover_venues: list[str]
    state: str
    venue_order_id: str | None
    filled_quantity: Decimal
    average_price: Decimal | None
    version: int
    reject_reason: str
    cancel_requested_at: datetime | None
    cancel_confirmed_at: datetime | None
    cancel_confirm_source: str
    amend_quantity: Decimal | None
    amend_price: Decimal | None
    created_at: datetime
    updated_at: datetime
    instrument_id: int
    instrument: InstrumentName

    @property
    def pk(self) -> int:
        return self.id


# The columns of an OrderRow (the instrument's two come through the join).
_ROW_COLUMNS = (*OrderRow._fields[:-1], "instrument__symbol", "instrument__venue_symbol")


def _order_rows(qs: QuerySet) -> list[OrderRow]:
    names: dict[tuple[str, str], InstrumentName] = {}
    rows = []
    for *values, symbol, venue_symbol in qs.values_list(*_ROW_COLUMNS):
        name = names.get((symbol, venue_symbol))
        if name is None:
            name = names[symbol, venue_symbol] = InstrumentName(symbol, venue_symbol)
        rows.append(OrderRow(*values, name))
    return rows


def _keyset_position(cursor: str) -> tuple[datetime, int]:
    position = decode_cursor(cursor, ("t", "id"))
    at = parse_datetime(str(position["t"]))
    if at is None or not isinstance(position["id"], int):
        raise OrderInvalid("cursor", "is not a cursor this API returned", rule="cursor")
    return at, position["id"]


def _newest(qs, states: list[str], instrument_ids: list[int] | None, n: int, *, merge: bool):
    """The n newest rows of qs in the given states and instruments (None: any instrument)."""
    split = None
    if merge and len(states) > 1:
        split = ("state", states)
    elif merge and instrument_ids is not None and len(instrument_ids) > 1:
        split = ("instrument_id", instrument_ids)
    if states and (split is None or split[0] != "state"):
        qs = qs.filter(state__in=states)
    if instrument_ids is not None and (split is None or split[0] != "instrument_id"):
        qs = qs.filter(instrument_id__in=instrument_ids)
    ordered = qs.order_by(*_NEWEST_FIRST)
    if split is None:
        return _order_rows(ordered[:n])
    field, values = split
    parts = [
        qs.filter(**{field: value}).order_by(*_NEWEST_FIRST).values_list("created_at", "id")[:n]
        for value in values
    ]
    merged = parts[0].union(*parts[1:], all=True).order_by(*_NEWEST_FIRST)[:n]
    newest = [pk for _at, pk in merged]
    return _order_rows(ordered.filter(pk__in=newest)[:n]) if newest else []


def order_events(*, order: Order, cursor: str | None = None, limit: int = 100) -> Page:
    qs = OrderEvent.objects.filter(order=order)
    if cursor:
        qs = qs.filter(sequence__gt=_int_position(cursor, "seq"))
    return _page(qs.order_by("sequence"), limit, lambda last: {"seq": last.sequence})


def active_orders(
    *, account: Account, render: Callable[[list[Order], bool, datetime], bytes]
) -> tuple[bytes, str]:
    """The account's non-terminal orders, newest first, from the cache when it has them:
    (the answer, "cache" or "database").

    `render(orders, truncated, as_of)` turns them into their wire form, JSON bytes: what is
    cached and served as it is (neither unpickled into objects nor encoded again per request).
    """
    generation, cached = active_cache.active_orders_lookup(account_id=account.pk)
    if cached is not None:
        return cached, "cache"
    return active_orders_read(account=account, render=render, generation=generation), "database"


def active_orders_read(
    *,
    account: Account,
    render: Callable[[list[Order], bool, datetime], bytes],
    generation: str | None,
) -> bytes:
    """The answer from PostgreSQL, cached under `generation` (read before the rows; None: not
    cached). A transition committed meanwhile has replaced the generation, so this answer is
    then never served."""
    as_of = timezone.now()
    rows = list(
        scoping.for_account(Order.objects.select_related("instrument"), account)
        .filter(state__in=lifecycle.ACTIVE_STATES)
        .order_by("-created_at", "-id")[: settings.ACTIVE_ORDERS_MAX + 1]
    )
    truncated = len(rows) > settings.ACTIVE_ORDERS_MAX
    value = render(rows[: settings.ACTIVE_ORDERS_MAX], truncated, as_of)
    if generation is not None:
        active_cache.active_orders_store(
            account_id=account.pk,
            generation=generation,
            value=value,
            ttl=settings.ACTIVE_ORDERS_CACHE_SECONDS,
        )
    return value


# --- instruments -------------------------------------------------------------------------------


def instrument_list(
    *,
    exchange: str | None = None,
    venue_api: str | None = None,
    base: str | None = None,
    market_type: str | None = None,
    symbol: str | None = None,
    active: bool | None = True,
    cursor: str | None = None,
    limit: int = 100,
) -> Page:
    qs: QuerySet = Instrument.objects.all()
    filters = {
        "venue": exchange,
        "venue_api": venue_api,
        "base": base.upper() if base else None,
        "market_type": market_type,
        "symbol": symbol,
        "active": active,
    }
    qs = qs.filter(**{k: v for k, v in filters.items() if v is not None})
    if cursor:
        qs = qs.filter(pk__gt=_int_position(cursor, "id"))
    return _page(qs.order_by("id"), limit, lambda last: {"id": last.pk})

"""orders.services and orders.validation called directly (as the admin and workers do)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from orders import services
from orders.errors import IllegalTransition, OrderInvalid, StaleOrder
from orders.instrument_cache import forget_instruments
from orders.models import Instrument, Order

BODY = {
    "exchange": "binance",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.010",
    "price": "65000.5",
}


def rule_of(excinfo) -> str:
    return excinfo.value.rule


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"quantity": 0.01}, "decimal"),
        ({"quantity": True}, "decimal"),
        ({"quantity": None}, "required"),
        ({"quantity": "abc"}, "decimal"),
        ({"quantity": "NaN"}, "decimal"),
        ({"quantity": "0"}, "positive"),
        ({"price": "-1"}, "positive"),
        ({"price": "1e40"}, "precision"),
        ({"side": "short"}, "choice"),
        ({"type": "stop"}, "choice"),
        ({"time_in_force": "DAY"}, "choice"),
        ({"exchange": "kraken"}, "unknown_exchange"),
        ({"failover": ["kraken"]}, "failover"),
        ({"failover": ["bitmex", "bitmex"]}, "failover"),
        ({"symbol": "SOL/USDC:USDC"}, "unknown_symbol"),
    ],
)
def test_order_create_names_the_rule(account, instruments, change, rule):
    with pytest.raises(OrderInvalid) as excinfo:
        services.order_create(account=account, data={**BODY, **change})
    assert rule_of(excinfo) == rule
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_min_qty_is_named_when_above_the_step(account, instruments):
    Instrument.objects.filter(venue_api="binance.usdm", venue_symbol="BTCUSDT").update(
        min_qty=Decimal("0.005")
    )
    with pytest.raises(OrderInvalid) as excinfo:
        services.order_create(account=account, data={**BODY, "quantity": "0.004"})
    assert rule_of(excinfo) == "min_qty"
    assert "minimum quantity 0.005" in str(excinfo.value.detail)


@pytest.mark.django_db
def test_an_expired_delivery_contract_is_not_tradable(account, instruments):
    future = Instrument.objects.get(venue_api="binance.usdm", venue_symbol__startswith="BTCUSDT_")
    data = {**BODY, "symbol": future.symbol}
    assert services.order_create(account=account, data=data).instrument == future
    Instrument.objects.filter(pk=future.pk).update(expiry=timezone.now() - timedelta(minutes=1))
    forget_instruments()  # a bulk update elsewhere is seen once the cached row expires
    with pytest.raises(OrderInvalid) as excinfo:
        services.order_create(account=account, data=data)
    assert rule_of(excinfo) == "instrument_inactive"


@pytest.mark.django_db
def test_accepting_sets_the_submit_deadline_and_mints_an_id(account, instruments, settings):
    order = services.order_create(account=account, data=BODY)
    expected = order.created_at + timedelta(seconds=settings.ORDER_SUBMIT_DEADLINE_SECONDS)
    assert abs((order.submit_deadline - expected).total_seconds()) < 1
    assert order.client_order_id.startswith("tp") and len(order.client_order_id) == 34
    assert order.time_in_force == "GTC"  # the default for limit orders


@pytest.mark.django_db
def test_cancel_of_a_submit_unknown_order_waits_for_reconciliation(account, order_factory):
    order = order_factory(account, state="SUBMIT_UNKNOWN")
    with pytest.raises(IllegalTransition, match="reconciliation"):
        services.order_cancel(order=order, actor="api")


@pytest.mark.django_db
def test_cancel_re_reads_an_order_a_worker_moved(account, order_factory):
    order = order_factory(account, state="NEW")
    stale = Order.objects.get(pk=order.pk)
    from orders import lifecycle

    lifecycle.transition(order, "PARTIALLY_FILLED", actor="worker", reason="fill")
    result = services.order_cancel(order=stale, actor="api")
    assert result.state == "PENDING_CANCEL" and result.version == 3


@pytest.mark.django_db
def test_amend_with_an_expected_version_does_not_retry(account, order_factory):
    order = order_factory(account, state="NEW")
    stale = Order.objects.get(pk=order.pk)
    from orders import lifecycle

    lifecycle.transition(order, "PARTIALLY_FILLED", actor="worker", reason="fill")
    with pytest.raises(StaleOrder):
        services.order_amend(order=stale, price="64000.0", expected_version=1, actor="api")
    amended = services.order_amend(order=stale, price="64000.0", actor="api")
    assert amended.state == "PENDING_AMEND" and amended.amend_price == Decimal("64000.0")


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db(transaction=True)
def test_accept_and_transitions_are_counted_after_commit(account, instruments):
    accepted = _sample("orders_accepted_total", venue="binance.usdm", order_type="limit")
    moved = _sample("order_transitions_total", to_state="PENDING_CANCEL", actor="api")
    order = services.order_create(account=account, data=BODY)
    services.order_cancel(order=order, actor="api")
    assert (
        _sample("orders_accepted_total", venue="binance.usdm", order_type="limit") == accepted + 1
    )
    assert _sample("order_transitions_total", to_state="PENDING_CANCEL", actor="api") == moved + 1

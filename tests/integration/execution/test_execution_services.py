"""The execution services called directly (in this process, no worker) against the emulator over
HTTP: the paths the end-to-end tests do not reach cheaply — deadlines, refusals, rejections,
refused amends and cancels, reconciliation of fills, the operator flag, the instrument command.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from orders import services
from orders.execution import reconcile
from orders.execution.amend import order_amend_send
from orders.execution.cancel import order_cancel_send
from orders.execution.locks import order_lock, order_lock_is_free
from orders.execution.reconcile import FLAG_REASON, order_reconcile, venue_reconcile
from orders.execution.router import failover_target
from orders.execution.submit import order_submit
from orders.models import Actor, Instrument, Order, OrderAttempt
from tests.fixtures.execution import instrument, order_body

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USDM = "binance.usdm"
SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def accepted(api, emulator, venue_instruments, settings):
    """accepted(venue_api, symbol, **body) -> a PENDING_NEW Order (its task is never run here)."""
    settings.VENUE_HTTP_READ_TIMEOUT = 1.5  # timeouts come quickly

    def make(venue_api=USDM, symbol=SYMBOL, type="limit", **extra) -> Order:
        body = order_body(instrument(venue_api, symbol), emulator, type=type, **extra)
        return services.order_create(account=api.account, data=body)

    return make


def _refresh(order: Order) -> Order:
    order.refresh_from_db()
    return order


def test_a_submit_refused_before_sending_is_retried_later_and_recorded_not_sent(accepted):
    from reliability.breaker import breaker_for

    order = accepted()
    breaker_for(USDM).force_open(by="test")

    assert order_submit(order_id=order.pk) == "retry"

    assert _refresh(order).state == "PENDING_NEW"
    attempt = OrderAttempt.objects.get(order=order)
    assert attempt.outcome == "not_sent" and attempt.error_code == "BreakerOpenError"


def test_past_the_deadline_a_never_sent_order_fails(accepted):
    from reliability.breaker import breaker_for

    order = accepted()
    breaker_for(USDM).force_open(by="test")
    Order.objects.filter(pk=order.pk).update(submit_deadline=timezone.now())

    assert order_submit(order_id=order.pk) == "failed"
    assert _refresh(order).state == "FAILED" and "deadline" in order.reject_reason


def test_a_venue_rejection_ends_rejected_with_the_venue_reason(accepted, emulator):
    order = accepted()
    # A quantity off the venue's lot step (the API would refuse it; the venue must too).
    Order.objects.filter(pk=order.pk).update(quantity=Decimal("0.0015"))

    assert order_submit(order_id=order.pk) == "rejected"

    order = _refresh(order)
    assert order.state == "REJECTED" and "http=400 code=-1111" in order.reject_reason
    assert emulator.orders(USDM, client_order_id=order.client_order_id) == []


def test_a_second_submit_of_the_same_order_does_nothing(accepted, emulator):
    order = accepted()
    assert order_submit(order_id=order.pk) == "acknowledged"
    assert order_submit(order_id=order.pk) == "noop"
    assert len(emulator.orders(USDM, client_order_id=order.client_order_id)) == 1


def test_a_busy_order_is_left_to_the_worker_holding_its_lock(accepted):
    order = accepted()
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            from orders.execution.locks import _key

            cursor.execute("SELECT pg_advisory_lock(%s)", [_key(order.pk)])
        assert not order_lock_is_free(order.pk)
        assert order_submit(order_id=order.pk) == "busy"
        assert order_reconcile(order_id=order.pk) == "busy"
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_key(order.pk)])
    finally:
        other.close()
    with order_lock(order.pk) as held:
        assert held


def test_a_refused_amend_goes_back_unchanged_with_the_reason(accepted, emulator):
    order = accepted()
    order_submit(order_id=order.pk)
    order = _refresh(order)
    services.order_amend(order=order, price=order.price - Decimal("1"), actor=Actor.API)
    # A price off the tick that the venue refuses (set behind the API's validation).
    Order.objects.filter(pk=order.pk).update(amend_price=order.price - Decimal("0.05"))

    assert order_amend_send(order_id=order.pk) == "refused"

    order = _refresh(order)
    assert order.state == "NEW" and order.amend_price is None
    last = order.events.order_by("-sequence").first()
    assert last.reason.startswith("amend refused by binance.usdm")
    truth = emulator.order(order.client_order_id, USDM)
    assert Decimal(truth["price"]) == order.price


def test_a_cancel_refused_while_the_order_shows_new_is_an_event_without_a_state_change(
    accepted, emulator
):
    order = accepted()
    order_submit(order_id=order.pk)
    # NEW with a cancel outstanding (the table has no NEW -> NEW edge to go "back" along)
    Order.objects.filter(pk=order.pk).update(cancel_requested_at=timezone.now())
    refusal = {"code": -2011, "msg": "Cancel rejected by the risk engine."}
    emulator.add_fault(
        "binance", "error", method="DELETE", path="/fapi/v1/order", status=400, body=refusal
    )

    assert order_cancel_send(order_id=order.pk) == "refused"

    order = _refresh(order)
    assert order.state == "NEW" and order.cancel_requested_at is None
    last = order.events.order_by("-sequence").first()
    assert (last.from_state, last.to_state, last.actor) == ("NEW", "NEW", "worker")
    assert last.reason.startswith("cancel refused by binance.usdm")
    assert "Cancel rejected by the risk engine." in last.reason
    assert order_cancel_send(order_id=order.pk) == "noop"  # the cancel is over
    assert emulator.order(order.client_order_id, USDM)["open"]


def test_a_cancel_of_an_order_the_venue_never_saw_is_confirmed_after_the_delay(
    accepted, emulator, settings
):
    settings.EXECUTION_VISIBILITY_DELAY_SECONDS = {"binance": 0.0, "bitmex": 0.0}
    order = accepted()
    order_submit(order_id=order.pk)
    order = _refresh(order)
    services.order_cancel(order=order, actor=Actor.API)
    emulator.reset("binance")  # the venue forgets it (e.g. purged)

    assert order_cancel_send(order_id=order.pk) == "cancelled"
    order = _refresh(order)
    assert order.state == "CANCELED" and order.cancel_confirm_source == "ack"


def test_reconciliation_adopts_fills_that_happened_at_the_venue(accepted, emulator):
    orders = [accepted(), accepted(), accepted(type="limit", side="sell")]
    for order in orders:
        order_submit(order_id=order.pk)
    filled, partial, untouched = (_refresh(o) for o in orders)
    emulator.fill(filled.client_order_id, venue_api=USDM)
    step = partial.instrument.step_size
    emulator.fill(partial.client_order_id, venue_api=USDM, quantity=step)

    report = venue_reconcile(venue_api=USDM)

    assert report.checked == 3 and report.stopped is None
    assert _refresh(filled).state == "FILLED" and filled.fills.count() >= 1
    assert _refresh(partial).state == "PARTIALLY_FILLED"
    assert partial.filled_quantity == step and partial.fills.count() == 1
    assert _refresh(untouched).state == "NEW"
    assert filled.events.filter(actor="reconciler").exists()


def test_an_unknown_order_past_its_deadline_is_flagged_not_dropped_nor_resent(
    accepted, emulator, settings
):
    settings.EXECUTION_VISIBILITY_DELAY_SECONDS = {"binance": 0.0, "bitmex": 0.0}
    emulator.add_fault("binance", "drop", method="POST", path="/fapi/v1/order", count=1)
    order = accepted()
    assert order_submit(order_id=order.pk) == "unknown"
    Order.objects.filter(pk=order.pk).update(submit_deadline=timezone.now() - timedelta(seconds=1))

    assert order_reconcile(order_id=order.pk) == "flagged"
    assert order_reconcile(order_id=order.pk) == "flagged"

    order = _refresh(order)
    assert order.state == "SUBMIT_UNKNOWN"
    assert order.events.filter(reason=FLAG_REASON).count() == 1  # flagged once
    assert emulator.orders(USDM, client_order_id=order.client_order_id) == []
    reconcile.outcome_unknown_gauges(venue_api=USDM)
    from tests.fixtures.execution import metric

    assert metric("orders_outcome_unknown_open", venue=USDM) >= 1


def test_failover_needs_an_equivalent_instrument_that_takes_the_quantity(accepted):
    order = accepted(failover=["bitmex"])
    target, quantity = failover_target(order)
    assert (target.venue_api, target.symbol, quantity) == ("bitmex", SYMBOL, order.quantity)

    Instrument.objects.filter(pk=target.pk).update(step_size=Decimal("1"))
    assert failover_target(order) is None


def test_sync_instruments_loads_every_venue_and_reports_an_unreachable_one(
    emulator, settings, capsys, transactional_db
):
    call_command("sync_instruments", "--wait", "5")
    out = capsys.readouterr().out
    assert all(api in out for api in ("binance.spot", "binance.usdm", "binance.coinm", "bitmex"))
    assert Instrument.objects.filter(venue_api="bitmex", active=True).exists()

    settings.BITMEX_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(CommandError, match="bitmex"):
        call_command("sync_instruments", "--venue-api", "bitmex", "--strict")


def _resting(accepted, venue_api=USDM, symbol=SYMBOL) -> Order:
    order = accepted(venue_api, symbol)
    assert order_submit(order_id=order.pk) == "acknowledged"
    return _refresh(order)


def test_an_amend_with_an_unknown_outcome_is_checked_before_it_is_sent_again(accepted, emulator):
    order = _resting(accepted)
    new_price = order.price - Decimal("1")
    services.order_amend(order=order, price=new_price, actor=Actor.API)
    emulator.add_fault("binance", "timeout", method="PUT", path="/fapi/v1/order", count=1)

    assert order_amend_send(order_id=order.pk) == "retry"
    assert _refresh(order).state == "PENDING_AMEND"
    assert order.attempts.get(operation="amend").outcome == "outcome_unknown"

    assert order_reconcile(order_id=order.pk) == "amended"  # it had landed
    order = _refresh(order)
    assert (order.state, order.price, order.amend_price) == ("NEW", new_price, None)
    assert order.attempts.filter(operation="amend").count() == 1  # never sent twice


def test_a_spot_cancel_replace_with_an_unknown_outcome_adopts_the_replacement(accepted, emulator):
    order = _resting(accepted, "binance.spot", "BTC/USDT")
    original_id = order.client_order_id
    services.order_amend(order=order, price=order.price - Decimal("1"), actor=Actor.API)
    emulator.add_fault(
        "binance", "timeout", method="POST", path="/api/v3/order/cancelReplace", count=1
    )

    assert order_amend_send(order_id=order.pk) == "retry"
    assert order_reconcile(order_id=order.pk) == "amended"

    order = _refresh(order)
    assert order.state == "NEW" and order.client_order_id == f"{original_id[:30]}-a1"
    truth = emulator.order(order.client_order_id, "binance.spot")
    assert truth["open"] and Decimal(truth["price"]) == order.price
    assert not emulator.order(original_id, "binance.spot")["open"]


def test_a_cancel_with_an_unknown_outcome_is_confirmed_by_reconciliation(accepted, emulator):
    order = _resting(accepted)
    services.order_cancel(order=order, actor=Actor.API)
    emulator.add_fault("binance", "timeout", method="DELETE", path="/fapi/v1/order", count=1)

    # The guard may resend the (idempotent) cancel: the venue then no longer knows it.
    assert order_cancel_send(order_id=order.pk) in ("retry", "settled")
    order_reconcile(order_id=order.pk)

    order = _refresh(order)
    assert order.state == "CANCELED" and order.cancel_confirm_source == "reconcile"
    assert order.cancel_confirmed_at >= order.cancel_requested_at


def test_an_open_order_the_venue_no_longer_knows_is_reported_not_changed(accepted, emulator):
    order = _resting(accepted)
    emulator.reset("binance")

    assert order_reconcile(order_id=order.pk) == "missing"
    assert _refresh(order).state == "NEW"


def test_a_pending_attempt_found_under_the_lock_means_its_worker_died(accepted, emulator):
    order = accepted()
    OrderAttempt.objects.create(
        order=order,
        operation="submit",
        venue_api=USDM,
        endpoint="POST /fapi/v1/order",
        client_order_id=order.client_order_id,
    )

    assert order_submit(order_id=order.pk) == "unknown"
    assert _refresh(order).state == "SUBMIT_UNKNOWN"
    assert OrderAttempt.objects.get(order=order).outcome == "outcome_unknown"


def test_a_pending_new_order_nobody_worked_on_is_queued_again(accepted, settings):
    settings.EXECUTION_STALE_SECONDS = 0
    order = accepted()
    assert order_reconcile(order_id=order.pk) == "requeued"
    settings.EXECUTION_STALE_SECONDS = 3600
    assert order_reconcile(order_id=order.pk) == "waiting"


def test_a_pass_stops_early_when_the_venue_cannot_be_reached(accepted, emulator, settings):
    from reliability.conf import DetectionConfig

    # The pass's own streak rule. (With outage detection on, the first failed read's
    # confirmation pings open the breaker and the pass stops on that: test_detection.py.)
    settings.RELIABILITY_DETECTION = DetectionConfig(probes=0)
    orders = [_resting(accepted) for _ in range(4)]
    emulator.outage("binance", 60)  # connection refused
    try:
        report = venue_reconcile(venue_api=USDM)
    finally:
        emulator.end_outage("binance")

    assert report.stopped and report.checked == 3
    assert report.results == {"unreachable": 3}
    assert all(_refresh(o).state == "NEW" for o in orders)


def test_a_cancel_before_the_first_send_never_reaches_the_venue(accepted, emulator):
    order = accepted()
    services.order_cancel(order=order, actor=Actor.API)

    assert order_cancel_send(order_id=order.pk) == "cancelled"
    assert order_submit(order_id=order.pk) == "noop"  # the queued submit finds it cancelled
    order = _refresh(order)
    assert order.state == "CANCELED" and order.cancel_confirm_source == "ack"
    assert emulator.orders(USDM, client_order_id=order.client_order_id) == []


def test_the_dead_man_switch_lets_the_venues_cancel_when_it_is_not_rearmed(
    accepted, emulator, settings
):
    from orders.execution.deadman import deadman_arm
    from tests.fixtures.execution import wait_for

    settings.DEAD_MAN_SWITCH_SECONDS = 1  # (the environment requires >= 5)
    usdm = _resting(accepted)
    bitmex = _resting(accepted, "bitmex", "BTC/USD:BTC")

    assert deadman_arm(venue_api=USDM) == [usdm.instrument.venue_symbol]
    assert deadman_arm(venue_api="bitmex") == ["*"]
    assert deadman_arm(venue_api="binance.spot") == []  # spot has no such timer

    def both_cancelled():
        return (
            not emulator.order(usdm.client_order_id, USDM)["open"]
            and not emulator.order(bitmex.client_order_id, "bitmex")["open"]
        )

    wait_for(both_cancelled, timeout=20, what="the venues' timers to cancel the orders")
    venue_reconcile(venue_api=USDM)
    venue_reconcile(venue_api="bitmex")
    assert _refresh(usdm).state == "CANCELED" and _refresh(bitmex).state == "CANCELED"


def test_the_dead_man_switch_is_off_by_default_and_not_rearmed_through_an_open_breaker(
    accepted, emulator, settings
):
    from orders.execution.deadman import deadman_arm
    from reliability.breaker import breaker_for

    _resting(accepted)
    assert deadman_arm(venue_api=USDM) == []  # DEAD_MAN_SWITCH_SECONDS = 0
    settings.DEAD_MAN_SWITCH_SECONDS = 30
    breaker_for(USDM).force_open(by="test")
    assert deadman_arm(venue_api=USDM) == []


def test_fills_missing_when_an_order_finished_are_recorded_by_the_next_pass(accepted, emulator):
    emulator.add_fault("binance", "error", method="GET", path="/fapi/v1/userTrades", status=500)
    order = accepted(type="market")
    assert order_submit(order_id=order.pk) == "acknowledged"
    order = _refresh(order)
    assert order.state == "FILLED" and order.fills.count() == 0  # the trades query failed

    emulator.clear_faults("binance")
    report = venue_reconcile(venue_api=USDM)

    assert report.results == {"corrected": 1}
    assert sum(f.quantity for f in order.fills.all()) == order.filled_quantity
    assert venue_reconcile(venue_api=USDM).results == {}  # nothing left to fix

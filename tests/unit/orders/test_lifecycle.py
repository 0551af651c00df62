"""The transition table, edge by edge, against the real database."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.errors import IllegalTransition, StaleOrder
from orders.models import Order, OrderEvent, OrderState

S = OrderState
ALL_STATES = [s.value for s in S]
ALL_PAIRS = list(itertools.product(ALL_STATES, ALL_STATES))
# The table as the design document reads it; the module must agree edge for edge.
EXPECTED_LEGAL = {
    ("PENDING_NEW", t)
    for t in (
        "PENDING_NEW", "SUBMIT_UNKNOWN", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED",
        "EXPIRED", "REJECTED", "FAILED", "PENDING_CANCEL",
    )
} | {
    ("SUBMIT_UNKNOWN", t)
    for t in (
        "PENDING_NEW", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REJECTED",
        "FAILED",
    )
} | {
    ("NEW", t)
    for t in ("PARTIALLY_FILLED", "FILLED", "PENDING_CANCEL", "PENDING_AMEND", "CANCELED", "EXPIRED")
} | {
    ("PARTIALLY_FILLED", t)
    for t in (
        "PARTIALLY_FILLED", "FILLED", "PENDING_CANCEL", "PENDING_AMEND", "CANCELED", "EXPIRED",
    )
} | {
    ("PENDING_CANCEL", t) for t in ("CANCELED", "FILLED", "PARTIALLY_FILLED", "NEW", "EXPIRED")
} | {
    ("PENDING_AMEND", t)
    for t in ("NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "PENDING_CANCEL")
}  # fmt: skip


def test_the_table_is_exactly_the_documented_one():
    table = {(f, t) for f, targets in lifecycle.TRANSITIONS.items() for t in targets}
    assert table == EXPECTED_LEGAL
    assert set(lifecycle.TRANSITIONS) == set(ALL_STATES)


def test_state_groups_partition_the_states():
    terminal, active, in_flight = (
        lifecycle.TERMINAL_STATES,
        lifecycle.ACTIVE_STATES,
        lifecycle.IN_FLIGHT_STATES,
    )
    assert terminal == {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "FAILED"}
    assert active == set(ALL_STATES) - terminal
    assert in_flight == {
        "PENDING_NEW",
        "SUBMIT_UNKNOWN",
        "PENDING_CANCEL",
        "PENDING_AMEND",
    }
    assert lifecycle.IN_FLIGHT_STATES < lifecycle.ACTIVE_STATES


@pytest.mark.parametrize(("from_state", "to_state"), ALL_PAIRS)
def test_can_transition_answers_every_pair(from_state, to_state):
    assert lifecycle.can_transition(from_state, to_state) == (
        (from_state, to_state) in EXPECTED_LEGAL
    )


def test_terminal_states_have_no_edge_except_late_fills():
    for state in lifecycle.TERMINAL_STATES:
        for target in ALL_STATES:
            assert not lifecycle.can_transition(state, target)
    assert lifecycle.can_transition("CANCELED", "CANCELED", fill=True)
    assert lifecycle.can_transition("CANCELED", "FILLED", fill=True)
    assert not lifecycle.can_transition("REJECTED", "FILLED", fill=True)
    assert not lifecycle.can_transition("FAILED", "PARTIALLY_FILLED", fill=True)


@pytest.mark.parametrize(("from_state", "to_state"), ALL_PAIRS)
def test_transition_applies_legal_pairs_and_refuses_the_rest(
    from_state, to_state, account, order_factory
):
    order = order_factory(account, state=from_state)
    legal = (from_state, to_state) in EXPECTED_LEGAL
    if legal:
        lifecycle.transition(order, to_state, actor="worker", reason="test")
        row = Order.objects.get(pk=order.pk)
        assert (row.state, row.version) == (to_state, 2)
        event = OrderEvent.objects.get(order=order, sequence=2)
        assert (event.from_state, event.to_state, event.actor) == (from_state, to_state, "worker")
    else:
        with pytest.raises(IllegalTransition):
            lifecycle.transition(order, to_state, actor="worker", reason="test")
        row = Order.objects.get(pk=order.pk)
        assert (row.state, row.version) == (from_state, 1)
        assert OrderEvent.objects.filter(order=order).count() == 1


def test_it_sets_fields_atomically_with_the_state(account, order_factory):
    order = order_factory(account, state="PENDING_NEW")
    lifecycle.transition(
        order,
        "NEW",
        actor="worker",
        reason="ack",
        correlation_id="cid-1",
        payload={"orderId": 123, "price": Decimal("65000.5")},
        fields={"venue_order_id": "123"},
    )
    row = Order.objects.get(pk=order.pk)
    assert row.venue_order_id == "123" and order.venue_order_id == "123"
    assert order.version == row.version == 2
    event = row.events.get(sequence=2)
    assert event.correlation_id == "cid-1"
    assert event.venue_payload == {"orderId": 123, "price": "65000.5"}


def test_a_stale_version_is_refused_and_nothing_is_written(account, order_factory):
    order = order_factory(account, state="NEW")
    stale = Order.objects.get(pk=order.pk)
    lifecycle.transition(order, "PENDING_CANCEL", actor="api", reason="cancel")
    with pytest.raises(StaleOrder):
        lifecycle.transition(stale, "PARTIALLY_FILLED", actor="worker", reason="fill")
    assert Order.objects.get(pk=order.pk).state == "PENDING_CANCEL"
    assert OrderEvent.objects.filter(order=order).count() == 2


def test_it_refuses_protected_fields_and_unknown_actors(account, order_factory):
    order = order_factory(account, state="NEW")
    with pytest.raises(ValueError):
        lifecycle.transition(order, "FILLED", actor="worker", reason="x", fields={"version": 9})
    with pytest.raises(ValueError):
        lifecycle.transition(order, "FILLED", actor="robot", reason="x")
    assert Order.objects.get(pk=order.pk).state == "NEW"


def _fill(order, trade_id, qty, price="65000", **kw):
    return lifecycle.apply_fill(
        order,
        trade_id=trade_id,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal("0.01"),
        fee_asset="USDT",
        ts=timezone.now(),
        actor=kw.pop("actor", "worker"),
        **kw,
    )


def test_fills_move_new_to_partially_filled_then_filled(account, order_factory):
    order = order_factory(account, state="NEW", quantity=Decimal("0.010"))
    _fill(order, "t1", "0.004", "65000")
    assert (order.state, order.filled_quantity) == ("PARTIALLY_FILLED", Decimal("0.004"))
    _fill(order, "t2", "0.006", "66000")
    row = Order.objects.get(pk=order.pk)
    assert row.state == "FILLED"
    assert row.filled_quantity == Decimal("0.010")
    assert row.average_price == Decimal("65600")  # (0.004*65000 + 0.006*66000) / 0.010
    reasons = list(row.events.order_by("sequence").values_list("to_state", flat=True))
    assert reasons == ["NEW", "PARTIALLY_FILLED", "FILLED"]


def test_a_repeated_fill_report_is_ignored(account, order_factory):
    order = order_factory(account, state="NEW")
    _fill(order, "t1", "0.004")
    _fill(order, "t1", "0.004")
    row = Order.objects.get(pk=order.pk)
    assert row.filled_quantity == Decimal("0.004")
    assert row.fills.count() == 1
    assert row.events.count() == 2


def test_a_late_partial_fill_after_cancel_is_applied_and_stays_canceled(account, order_factory):
    order = order_factory(account, state="CANCELED")
    _fill(order, "late-1", "0.004")
    row = Order.objects.get(pk=order.pk)
    assert (row.state, row.filled_quantity) == ("CANCELED", Decimal("0.004"))
    event = row.events.get(sequence=2)
    assert (event.from_state, event.to_state) == ("CANCELED", "CANCELED")
    assert event.reason.startswith("late fill late-1")


def test_a_late_fill_completing_the_order_makes_it_filled(account, order_factory):
    order = order_factory(account, state="CANCELED", filled_quantity=Decimal("0.006"))
    _fill(order, "late-2", "0.004")
    row = Order.objects.get(pk=order.pk)
    # The venue's cumulative 0.006 knew of trades we have no rows for: max(0.006, 0.004) stays.
    assert (row.state, row.filled_quantity) == ("CANCELED", Decimal("0.006"))
    _fill(order, "late-3", "0.006")
    row = Order.objects.get(pk=order.pk)
    assert (row.state, row.filled_quantity) == ("FILLED", Decimal("0.010"))


def test_a_fill_on_a_rejected_order_is_refused_and_not_stored(account, order_factory):
    order = order_factory(account, state="REJECTED")
    with pytest.raises(IllegalTransition):
        _fill(order, "x1", "0.001")
    assert not Order.objects.get(pk=order.pk).fills.exists()


def test_inverse_average_price_is_harmonic(account, order_factory):
    order = order_factory(
        account,
        state="NEW",
        instrument="binance.coinm:BTCUSD_PERP",
        quantity=Decimal("2"),
        price=Decimal("50000"),
    )
    _fill(order, "c1", "1", "40000")
    _fill(order, "c2", "1", "60000")
    row = Order.objects.get(pk=order.pk)
    assert row.average_price == Decimal("48000")  # 2 / (1/40000 + 1/60000)


def test_note_records_an_event_without_changing_the_state(account, order_factory):
    order = order_factory(account, state="FILLED")
    event = lifecycle.note(order, actor="operator", reason="reconcile requested by alice")
    row = Order.objects.get(pk=order.pk)
    assert (row.state, row.version) == ("FILLED", 1)
    assert (event.sequence, event.from_state, event.to_state) == (2, "FILLED", "FILLED")

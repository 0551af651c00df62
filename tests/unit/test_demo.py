"""manage.py demo without a platform: its order arithmetic and its failures (the tour itself
runs against the live stack in tests/e2e/test_demo.py)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from orders.demo import describe, quantity_for, step_down, step_up


def _inst(**fields) -> dict:
    base = {"market_type": "linear", "step_size": "0.001", "min_qty": "0.001"}
    return {**base, "min_notional": "100", "contract_size": "1", **fields}


def test_it_rounds_prices_down_and_quantities_up_to_the_step():
    assert step_down(Decimal("63027.987"), Decimal("0.1")) == Decimal("63027.9")
    assert step_up(Decimal("0.00191"), Decimal("0.001")) == Decimal("0.002")


def test_quantities_clear_the_minimum_notional_with_room():
    # 100 USDT * 1.2 / 60000 = 0.002
    assert quantity_for(_inst(), Decimal("60000")) == Decimal("0.002")
    # inverse contracts: the minimum is in contracts, whatever the price
    inverse = _inst(market_type="inverse", step_size="100", min_qty="100", min_notional="0")
    assert str(quantity_for(inverse, Decimal("60000"))) == "100"  # never "1E+2"
    spot = _inst(step_size="0.00001", min_qty="0.00001", min_notional="5")
    assert quantity_for(spot, Decimal("60000")) == Decimal("0.0001")


def test_it_describes_an_order_with_its_fill():
    order = {
        "venue_api": "bitmex",
        "symbol": "BTC/USD:BTC",
        "state": "FILLED",
        "venue_order_id": "abc",
        "filled_quantity": "100",
        "average_price": "65000.5",
    }
    assert describe(order) == "bitmex BTC/USD:BTC FILLED (venue order id abc), filled 100 @ 65000.5"


def test_it_stops_with_a_clear_message_when_the_platform_is_not_running(tmp_path: Path):
    (tmp_path / "demo-api-key").write_text("tk_nothing\n")
    with pytest.raises(CommandError, match="does not answer"):
        call_command(
            "demo",
            url="http://127.0.0.1:9",  # the discard port: nothing listens
            state_dir=str(tmp_path),
            stdout=io.StringIO(),
        )


def test_it_needs_the_demo_key_of_make_run(tmp_path: Path):
    with pytest.raises(CommandError, match="make run"):
        call_command("demo", state_dir=str(tmp_path), stdout=io.StringIO())

"""StrictSerializer: unknown fields refused; bound fields shared per class and thread, and still
one validation's state never reaches another."""

from __future__ import annotations

import threading
from decimal import Decimal

from rest_framework import serializers

from orders.api_fields import DecimalString, StrictSerializer


class Body(StrictSerializer):
    side = serializers.ChoiceField(choices=["buy", "sell"])
    quantity = DecimalString()
    tags = serializers.ListField(child=serializers.CharField(), required=False)


def test_it_refuses_unknown_fields():
    body = Body(data={"side": "buy", "quantity": "1", "qty": "2"})
    assert not body.is_valid()
    assert body.errors == {"qty": ["Unknown field."]}


def test_instances_share_their_bound_fields_but_not_their_results():
    good = Body(data={"side": "buy", "quantity": "0.010", "tags": ["a"]})
    bad = Body(data={"side": "hold", "quantity": 1})

    assert good.fields is bad.fields  # built once for this class in this thread
    assert good.is_valid() and not bad.is_valid()
    assert good.validated_data == {"side": "buy", "quantity": Decimal("0.010"), "tags": ["a"]}
    assert set(bad.errors) == {"side", "quantity"}
    assert good.errors == {}
    again = Body(data={"side": "sell", "quantity": "2"})
    assert again.is_valid() and again.validated_data == {"side": "sell", "quantity": Decimal("2")}


def test_each_thread_binds_its_own_fields():
    here = Body(data={}).fields
    seen = []
    thread = threading.Thread(target=lambda: seen.append(Body(data={}).fields))
    thread.start()
    thread.join()
    assert seen and seen[0] is not here and list(seen[0]) == list(here)

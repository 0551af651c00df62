"""GET /api/v1/instruments: what can be traded where, with the venue's order rules."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from exchanges.types import MarketType
from orders import selectors
from orders.api_fields import DecimalString, PageParams, page_url
from orders.models import VENUES, Instrument


class InstrumentListApi(APIView):
    class FilterSerializer(PageParams):
        exchange = serializers.ChoiceField(choices=VENUES, required=False)
        venue = serializers.ChoiceField(choices=VENUES, required=False, help_text="= exchange")
        venue_api = serializers.ChoiceField(choices=Instrument.VenueApi.choices, required=False)
        base = serializers.CharField(required=False, max_length=16, help_text="e.g. BTC")
        market_type = serializers.ChoiceField(choices=[m.value for m in MarketType], required=False)
        symbol = serializers.CharField(required=False, max_length=48)
        active = serializers.BooleanField(
            required=False, allow_null=True, default=True, help_text="false: expired ones too"
        )

    @extend_schema_serializer(component_name="InstrumentPage")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="Instrument")
        class Item(serializers.Serializer):
            id = serializers.IntegerField()
            exchange = serializers.CharField(source="venue")
            venue_api = serializers.CharField()
            venue_symbol = serializers.CharField()
            symbol = serializers.CharField()
            base = serializers.CharField()
            quote = serializers.CharField()
            settle = serializers.CharField(allow_null=True)
            market_type = serializers.CharField()
            expiry = serializers.DateTimeField(allow_null=True)
            tick_size = DecimalString()
            step_size = DecimalString()
            min_qty = DecimalString()
            min_notional = DecimalString()
            contract_size = DecimalString()
            max_qty = DecimalString(allow_null=True)
            active = serializers.BooleanField()
            refreshed_at = serializers.DateTimeField()

        results = Item(many=True)
        next = serializers.URLField(allow_null=True)

    @extend_schema(
        tags=["instruments"],
        summary="List instruments",
        operation_id="instruments_list",
        description="Instruments as loaded from each venue, with tick/step sizes and minimums.",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer},
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        page = selectors.instrument_list(
            exchange=f.get("exchange") or f.get("venue"),
            venue_api=f.get("venue_api"),
            base=f.get("base"),
            market_type=f.get("market_type"),
            symbol=f.get("symbol"),
            active=f.get("active"),
            cursor=f.get("cursor"),
            limit=f["limit"],
        )
        body = {"results": page.results, "next": page_url(request, page.next_cursor)}
        return Response(self.OutputSerializer(body).data)

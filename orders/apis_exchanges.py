"""GET /api/v1/exchanges: which venue APIs take orders now, their breakers and health."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.api_fields import ErrorSerializer
from orders.selectors_exchanges import venue_apis_status


class ExchangeListApi(APIView):
    @extend_schema_serializer(component_name="ExchangeList")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="VenueApiStatus")
        class Item(serializers.Serializer):
            class Breaker(serializers.Serializer):
                state = serializers.ChoiceField(
                    choices=["closed", "open", "half_open", "forced_open", "forced_closed"]
                )
                allows_calls = serializers.BooleanField()
                consecutive_failures = serializers.IntegerField()
                opened_at = serializers.DateTimeField(source="opened", allow_null=True)
                retry_at = serializers.DateTimeField(
                    source="retry", allow_null=True, help_text="when an open breaker may probe"
                )
                last_trigger = serializers.CharField(
                    help_text="failures, recovery_timeout, force_open, reset, ..."
                )
                reason = serializers.CharField()
                degraded = serializers.BooleanField(
                    help_text="Redis unreachable: this process's local fallback state"
                )

            class Health(serializers.Serializer):
                status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
                latency_ms = serializers.FloatField(allow_null=True, required=False)
                checked_at = serializers.FloatField(help_text="Unix time of the check")
                error = serializers.CharField(required=False)

            exchange = serializers.CharField()
            venue_api = serializers.CharField()
            accepting_orders = serializers.BooleanField(
                help_text="false: new orders for this venue API fail fast (503 venue_unavailable) "
                "unless they name a failover venue that accepts"
            )
            breaker = Breaker()
            health = Health(allow_null=True)

        results = Item(many=True)

    @extend_schema(
        tags=["exchanges"],
        summary="Venue APIs: breakers and health",
        operation_id="exchanges_list",
        description="Each venue API (binance.spot, binance.usdm, binance.coinm, bitmex): its "
        "circuit breaker, live from the shared state every worker uses, and its last health "
        "check (cached for a few seconds).",
        responses={
            200: OutputSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Missing or unknown API key."),
        },
    )
    def get(self, request):
        body = {"results": venue_apis_status()}
        return Response(self.OutputSerializer(body).data)

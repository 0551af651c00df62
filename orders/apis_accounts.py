from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class AccountApi(APIView):
    """The account and key behind the caller's API key."""

    class OutputSerializer(serializers.Serializer):
        account = serializers.CharField()
        key_prefix = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer, summary="Who am I")
    def get(self, request):
        key = request.user.key
        data = {"account": key.account.name, "key_prefix": key.prefix, "scopes": key.scopes}
        return Response(self.OutputSerializer(data).data)

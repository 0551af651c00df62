from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (shared by every web process through the Redis cache)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = getattr(request.user, "key", None)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}

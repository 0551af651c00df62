from __future__ import annotations

import structlog

from monitoring import correlation

log = structlog.get_logger(__name__)


class CorrelationIdMiddleware:
    """Takes X-Request-ID (or mints one), binds it for the request, returns it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation.clear()
        cid = correlation.sanitize(request.headers.get(correlation.HEADER))
        correlation.bind(cid)
        request.correlation_id = cid
        response = self.get_response(request)
        response[correlation.HEADER] = cid
        if not request.path.startswith(("/health/", "/metrics", "/static/")):
            log.info(
                "http_request",
                method=request.method,
                path=request.path,
                status=response.status_code,
            )
        correlation.clear()
        return response

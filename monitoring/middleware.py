from __future__ import annotations

import structlog
from django_prometheus import middleware as prometheus

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


class _LabelCache:
    """django-prometheus's middleware, with each labelled child looked up once per process.

    The same metrics (names, labels, values) as django_prometheus.middleware's; only
    `metric.labels(...)`, which validates and hashes its labels on every call (about 17 calls
    per request), becomes a dict lookup after a label set's first use. Label values are
    bounded (views, methods, statuses, transports, charsets, template names).
    """

    def label_metric(self, metric, request, response=None, **labels):
        if not labels:
            return metric
        key = (id(metric), *labels.items())
        children = self.__dict__.setdefault("_children", {})
        child = children.get(key)
        if child is None:
            child = children[key] = metric.labels(**labels)
        return child


class PrometheusBeforeMiddleware(_LabelCache, prometheus.PrometheusBeforeMiddleware):
    pass


class PrometheusAfterMiddleware(_LabelCache, prometheus.PrometheusAfterMiddleware):
    pass

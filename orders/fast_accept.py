"""POST /api/v1/orders without DRF's per-request machinery, for the requests it can answer
exactly as the DRF view (OrderListCreateApi.post) would.

The same steps, by the same code: the body is validated by the view's own InputSerializer, the
API key and its throttle are read in one Redis call (orders/authentication.py
`cached_and_throttled`), the key's scope is checked, `services.order_create` accepts the order
and the 202 is rendered by `render_order`; a domain error raised by the service leaves through
the API's exception handler (trading/errors.py). What is skipped is the machinery around them:
DRF's Request wrapper, content negotiation, the parser classes, the authentication, permission
and throttle objects built per request, the Response's template-response rendering, and the
URL resolver's reverse for the Location. The request still passes through every middleware
(correlation id, the request's log line, Prometheus request metrics).

Whenever this path cannot answer exactly as the DRF view would, `serve` returns None and the DRF
view serves the request: an Accept or Content-Type other than JSON, a body that is not a small
JSON object the serializer accepts, a missing or malformed Authorization or Idempotency-Key
header, a key not in the cache, revoked, or without the `trade` scope, a request over the
throttle's limit, and Redis unreachable. A request handed over after its key was looked up
keeps that lookup and the throttle's verdict (left on the request), so it is never counted twice
and its key is not read again.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.urls import get_script_prefix, reverse
from rest_framework.renderers import JSONRenderer

from monitoring import correlation
from orders import authentication, services
from orders.active_read import ACCEPTS_JSON
from orders.models.accounts import hash_key
from orders.throttling import VERDICT, throttle_for
from trading.errors import api_exception_handler

_JSON = frozenset({"application/json", "application/json; charset=utf-8"})
_MAX_BODY = 4096  # bytes; an order is ~200. A larger body goes the ordinary way.
# What DRF's view sends besides the body (APIView.default_response_headers).
_ALLOW = "GET, POST, HEAD, OPTIONS"
_RENDERER = JSONRenderer()
_locations: dict[str, str] = {}


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")  # as DRF's strict JSON parser


def _body(request) -> dict | None:
    meta = request.META
    if meta.get("HTTP_ACCEPT") not in ACCEPTS_JSON:
        return None
    if (meta.get("CONTENT_TYPE") or "").lower() not in _JSON:
        return None
    length = meta.get("CONTENT_LENGTH") or ""
    if not length.isdigit() or not 0 < int(length) <= _MAX_BODY:
        return None
    try:
        data = json.loads(request.body.decode("utf-8"), parse_constant=_refuse_constant)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        return None
    return data if isinstance(data, dict) else None


def _idempotency_key(request) -> tuple[bool, str | None]:
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        return True, None
    return (0 < len(key) <= 255 and key.isprintable()), key


def location(request, order_id: int) -> str:
    """The order's absolute URL: reverse() once per script prefix, then string formatting."""
    prefix = get_script_prefix()
    template = _locations.get(prefix)
    if template is None:
        marker = 987654321
        template = _locations[prefix] = reverse("order-detail", args=[marker]).replace(
            str(marker), "{}"
        )
    return request.build_absolute_uri(template.format(order_id))


def serve(request, api, render) -> HttpResponse | None:
    """The response to POST /api/v1/orders, or None: the DRF view `api` serves it. `render`
    turns the order into the 202's body (apis.render_order)."""
    if request.method != "POST":
        return None
    data = _body(request)
    if data is None:
        return None
    valid, idempotency_key = _idempotency_key(request)
    if not valid:
        return None
    body = api.InputSerializer(data=data)
    if not body.is_valid():
        return None
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    throttle = throttle_for(api())
    if throttle is None:
        return None
    digest = hash_key(parts[1])
    key = authentication.cached_and_throttled(request, digest, throttle)
    if key is None or not key.is_active or not key.has_scope("trade"):
        return None
    if not throttle.accept_reply(getattr(request, VERDICT)[1]):
        return None  # DRF's throttle refuses it with the same verdict (429 with Retry-After)
    setattr(request, VERDICT, None)
    try:
        authentication.touch(key)
        order = services.order_create(
            account=key.account,
            data=body.validated_data,
            idempotency_key=idempotency_key,
            correlation_id=correlation.current(),
        )
    except Exception as exc:  # every error leaves through the API's handler
        return _error(request, exc)
    response = _json(render(order), 202)
    response["Location"] = location(request, order.pk)
    if order.idempotent_replay:
        response["Idempotent-Replayed"] = "true"
    return response


def _json(data, status: int) -> HttpResponse:
    response = HttpResponse(_RENDERER.render(data), status=status, content_type="application/json")
    response["Allow"] = _ALLOW
    return response


def _error(request, exc: Exception) -> HttpResponse:
    answer = api_exception_handler(exc, {"request": request, "view": None})
    response = _json(answer.data, answer.status_code)
    for name, value in answer.items():
        if name.lower() != "content-type":
            response[name] = value
    return response

"""BitMEX API-key authentication (shared/specs/EXCHANGES.md §4.1).

api-signature = hex(HMAC_SHA256(secret, VERB + path-with-query + expires + body)), where the
path includes /api/v1 and the query string, and body is the exact raw body sent ('' for GET).
api-expires is a UNIX time in seconds after which BitMEX refuses the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal


def sign(secret: str, verb: str, path: str, expires: int, data: str = "") -> str:
    message = f"{verb.upper()}{path}{expires}{data}"
    # hmac.new, not hmac.digest (which lets go of the GIL): see exchanges.binance.signing.sign
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def auth_headers(
    api_key: str, secret: str, *, verb: str, path: str, expires: int, data: str = ""
) -> dict[str, str]:
    return {
        "api-key": api_key,
        "api-expires": str(expires),
        "api-signature": sign(secret, verb, path, expires, data),
    }


def _number(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def dumps(payload: dict) -> str:
    """Compact JSON with Decimals written as exact JSON numbers (never through float)."""
    parts = []
    for key, value in payload.items():
        if value is None:
            continue
        encoded = _number(value) if isinstance(value, Decimal) else json.dumps(value)
        parts.append(f"{json.dumps(key)}:{encoded}")
    return "{" + ",".join(parts) + "}"

"""Binance HMAC-SHA256 request signing (shared/specs/EXCHANGES.md §2.1).

totalParams = query string + request body, concatenated without a separator; the signature is
hex(HMAC_SHA256(secret, totalParams)) and is sent as the last parameter. Non-ASCII values are
percent-encoded (UTF-8) before signing, exactly as they are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from urllib.parse import quote

API_KEY_HEADER = "X-MBX-APIKEY"


def format_value(value: object) -> str:
    """Decimals in plain notation (never exponent), booleans as the venue's "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text or "0"
    return str(value)


# Characters quote() never encodes: text made of them only is sent as it is.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def _quoted(text: str) -> str:
    return text if _PLAIN(text) else quote(text, safe="")


def encode_params(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """key=value&... in the given order, values percent-encoded as UTF-8; None values dropped."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(
        f"{_quoted(str(key))}={_quoted(format_value(value))}"
        for key, value in items
        if value is not None
    )


def sign(secret: str, payload: str) -> str:
    # hmac.new, not the one-shot hmac.digest: CPython's hmac.digest lets go of the GIL for
    # every message, however short, and another thread of the process (the log writer, the
    # breaker's flusher) takes it there; measured in bench/adapter.py, ~0.1 ms a place + cancel.
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_payload(secret: str, *, query: str = "", body: str = "") -> tuple[str, str]:
    """Append `signature` to the body when there is one, else to the query string."""
    signature = sign(secret, query + body)
    if body:
        return query, f"{body}&signature={signature}"
    return (f"{query}&signature={signature}" if query else f"signature={signature}"), body

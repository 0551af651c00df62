"""Binance HMAC-SHA256 request signing, checked exactly as the venue checks it.

The signed payload is the raw query string concatenated, without a separator, with the raw
form body (Binance's "totalParams"), each without its `signature=` parameter. The signature is
the lower- or upper-case hex HMAC-SHA256 of that payload under the secret key.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """(raw without its `signature=` parameter, the signature or None)."""
    if "signature=" not in raw:
        return raw, None
    kept, signature = [], None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def signed_payload(query: str, body: str) -> tuple[str, str | None]:
    """(totalParams to verify, signature sent in the query or the body)."""
    query_rest, query_sig = split_signature(query)
    body_rest, body_sig = split_signature(body)
    return query_rest + body_rest, query_sig if query_sig is not None else body_sig


def verify(query: str, body: str, secret: str) -> bool:
    payload, signature = signed_payload(query, body)
    if not signature:
        return False
    return hmac.compare_digest(sign(payload, secret), signature.strip().lower())

"""BitMEX request signing: hex(HMAC_SHA256(secret, VERB + path?query + expires + body))."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, verb: str, path: str, expires: int | str, data: str = "") -> str:
    message = f"{verb.upper()}{path}{expires}{data}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, verb: str, path: str, expires: str, data: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, verb, path, expires, data), signature.strip().lower())

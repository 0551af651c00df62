"""Minimal venue clients written from the venues' docs alone (not from the emulator's code):
what an adapter does on the wire. Used to prove the emulator speaks the real protocols."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import httpx


class BinanceClient:
    """Binance REST: params in the query string (GET/DELETE) or form body (POST/PUT), HMAC
    SHA256 over query string + body in `signature`, key in X-MBX-APIKEY (rest-api.md)."""

    def __init__(self, base_url: str, key: str, secret: str, *, timeout: float = 10.0):
        self.key, self.secret = key, secret
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def public(self, path: str, **params) -> httpx.Response:
        return self.http.get(path, params=params)

    def signed(
        self,
        method: str,
        path: str,
        *,
        in_body: bool | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        key: str | None = None,
        **params,
    ) -> httpx.Response:
        params = {k: v for k, v in params.items() if v is not None}
        params["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        payload = urlencode(params)
        signature = hmac.new(
            (secret or self.secret).encode(), payload.encode(), hashlib.sha256
        ).hexdigest()
        signed = f"{payload}&signature={signature}"
        headers = {"X-MBX-APIKEY": key if key is not None else self.key}
        body_methods = ("POST", "PUT")
        if in_body if in_body is not None else method in body_methods:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.http.request(method, path, content=signed, headers=headers)
        return self.http.request(method, f"{path}?{signed}", headers=headers)

    def close(self) -> None:
        self.http.close()


class BitmexClient:
    """BitMEX REST: JSON body, api-key / api-expires / api-signature =
    hex(HMAC_SHA256(secret, verb + path + expires + body)) (apiKeysUsage)."""

    def __init__(self, base_url: str, key: str, secret: str, *, timeout: float = 10.0):
        self.key, self.secret = key, secret
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        query: dict | None = None,
        expires: int | None = None,
        secret: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        if query:
            path = f"{path}?{urlencode(query)}"
        if body is not None:
            body = {k: v for k, v in body.items() if v is not None}
        data = json.dumps(body) if body is not None else ""
        headers = {"content-type": "application/json"}
        if signed:
            expires = expires if expires is not None else int(time.time()) + 60
            message = f"{method}{path}{expires}{data}"
            headers.update(
                {
                    "api-key": self.key,
                    "api-expires": str(expires),
                    "api-signature": hmac.new(
                        (secret or self.secret).encode(), message.encode(), hashlib.sha256
                    ).hexdigest(),
                }
            )
        return self.http.request(method, path, content=data, headers=headers)

    def close(self) -> None:
        self.http.close()

"""Scripted faults and outages, matched per request by method and path.

A rule (JSON through `POST /_emulator/faults`):

    {"method": "POST", "path": "/fapi/v1/order", "effect": "timeout", "count": 1}

- `method`: HTTP method or "*"; `path`: a glob (fnmatch) on the request path ("/api/v3/order*").
- `effect`:
  - `latency`: wait `delay` seconds, then process normally.
  - `error`: answer `status` with `body` (default: the venue's generic error body for that
    status). With `"accept": true` the request is processed first (the order exists) and the
    error replaces the real answer: the "outcome unknown" case (5xx after the engine saw it).
  - `timeout`: the request is processed (the order IS created) and the answer is held back for
    `delay` seconds (default 60), beyond any sane client timeout.
  - `drop`: the connection is closed without an answer; before processing, or after it with
    `"accept": true`.
  - `rate_limit`: 429 with `Retry-After: retry_after` and the venue's rate-limit body; not
    processed.
- `probability` (0..1, default 1) and `count` (times it may fire, default unlimited); with a
  `seed` the probability draws are reproducible.

Rules are checked in the order they were added; the first that fires applies. The control API
(`/_emulator/...`) is never subject to faults.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from typing import Any

EFFECTS = ("latency", "error", "timeout", "drop", "rate_limit")


class FaultError(ValueError):
    """A fault rule that does not make sense."""


@dataclass
class FaultRule:
    id: int
    effect: str
    method: str = "*"
    path: str = "*"
    delay: float = 0.0
    status: int = 500
    body: Any = None
    accept: bool = False
    retry_after: int = 1
    probability: float = 1.0
    count: int | None = None
    seed: int | None = None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_json(cls, rule_id: int, data: dict) -> FaultRule:
        if not isinstance(data, dict):
            raise FaultError("a fault rule is a JSON object")
        effect = data.get("effect")
        if effect not in EFFECTS:
            raise FaultError(f"effect must be one of {', '.join(EFFECTS)}")
        known = {
            "effect",
            "method",
            "path",
            "delay",
            "status",
            "body",
            "accept",
            "retry_after",
            "probability",
            "count",
            "seed",
        }
        unknown = set(data) - known
        if unknown:
            raise FaultError(f"unknown fields: {', '.join(sorted(unknown))}")
        try:
            rule = cls(
                id=rule_id,
                effect=effect,
                method=str(data.get("method", "*")).upper(),
                path=str(data.get("path", "*")),
                delay=float(data.get("delay", 60.0 if effect == "timeout" else 0.0)),
                status=int(data.get("status", 500)),
                body=data.get("body"),
                accept=bool(data.get("accept", False)),
                retry_after=int(data.get("retry_after", 1)),
                probability=float(data.get("probability", 1.0)),
                count=None if data.get("count") is None else int(data["count"]),
                seed=None if data.get("seed") is None else int(data["seed"]),
            )
        except (TypeError, ValueError) as exc:
            raise FaultError(f"bad value: {exc}") from None
        if not 0 <= rule.probability <= 1 or rule.delay < 0 or not 100 <= rule.status <= 599:
            raise FaultError("probability must be in [0, 1], delay >= 0, status an HTTP code")
        rule.rng = random.Random(rule.seed)
        return rule

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path)

    def fire(self) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if self.probability < 1 and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "effect": self.effect,
            "method": self.method,
            "path": self.path,
            "delay": self.delay,
            "status": self.status,
            "body": self.body,
            "accept": self.accept,
            "retry_after": self.retry_after,
            "probability": self.probability,
            "count": self.count,
            "seed": self.seed,
            "fired": self.fired,
        }


class FaultSet:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, data: dict) -> FaultRule:
        rule = FaultRule.from_json(self._next_id, data)
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int | None = None) -> int:
        before = len(self.rules)
        self.rules = [] if rule_id is None else [r for r in self.rules if r.id != rule_id]
        return before - len(self.rules)

    def pick(self, method: str, path: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.matches(method, path) and rule.fire():
                return rule
        return None

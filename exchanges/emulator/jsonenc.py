"""JSON in and out with Decimal kept exact: numbers parse to Decimal and Decimals are written
as JSON numbers from their exact decimal text (BitMEX sends prices as JSON numbers)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

_encode_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def loads(data: bytes | str) -> Any:
    return json.loads(data, parse_float=Decimal)


def dumps(value: Any) -> bytes:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, Decimal):
        out.append(f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, float):
        out.append(json.dumps(value))
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")

"""Extract, from the venues' official (and the unofficial futures) API specs, the response
schema of every endpoint the emulator serves, with every $ref inlined, into small JSON files
the shape tests load (CI clones only this repository, not the full spec files).

    python tests/data/specs/extract.py /path/to/shared/specs

Sources (see README.md beside this file): binance/binance-api-swagger spot_api.yaml,
openxapi/openxapi umfutures.yaml and cmfutures.yaml (unofficial, generated from the docs),
BitMEX/api-connectors swagger.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent

SPOT = [
    ("get", "/api/v3/ping"),
    ("get", "/api/v3/time"),
    ("get", "/api/v3/exchangeInfo"),
    ("get", "/api/v3/depth"),
    ("get", "/api/v3/ticker/price"),
    ("get", "/api/v3/ticker/bookTicker"),
    ("post", "/api/v3/order"),
    ("get", "/api/v3/order"),
    ("delete", "/api/v3/order"),
    ("get", "/api/v3/openOrders"),
    ("delete", "/api/v3/openOrders"),
    ("get", "/api/v3/allOrders"),
    ("post", "/api/v3/order/cancelReplace"),
    ("get", "/api/v3/myTrades"),
    ("post", "/api/v3/order/test"),
]
FUTURES = [
    ("get", "/ping"),
    ("get", "/time"),
    ("get", "/exchangeInfo"),
    ("get", "/depth"),
    ("get", "/ticker/price"),
    ("get", "/ticker/bookTicker"),
    ("post", "/order"),
    ("put", "/order"),
    ("get", "/order"),
    ("delete", "/order"),
    ("delete", "/allOpenOrders"),
    ("get", "/openOrders"),
    ("get", "/allOrders"),
    ("get", "/userTrades"),
    ("post", "/countdownCancelAll"),
]
BITMEX = [
    ("get", "/instrument"),
    ("get", "/instrument/active"),
    ("get", "/orderBook/L2"),
    ("get", "/quote"),
    ("post", "/order"),
    ("put", "/order"),
    ("get", "/order"),
    ("delete", "/order"),
    ("delete", "/order/all"),
    ("post", "/order/cancelAllAfter"),
    ("get", "/execution"),
    ("get", "/execution/tradeHistory"),
    ("get", "/position"),
]


def inline(node, root, seen=()):
    """Resolve every local $ref (recursion guarded) and drop documentation-only keys."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                return {}
            target = root
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
            return inline(target, root, (*seen, ref))
        return {
            key: inline(value, root, seen)
            for key, value in node.items()
            if key not in ("example", "examples", "description", "title")
        }
    if isinstance(node, list):
        return [inline(item, root, seen) for item in node]
    return node


def openapi_200(spec, path, method):
    response = spec["paths"][path][method]["responses"]["200"]
    content = response.get("content", {}).get("application/json", {})
    return inline(content.get("schema", {}), spec)


def swagger_200(spec, path, method):
    return inline(spec["paths"][path][method]["responses"]["200"].get("schema", {}), spec)


def main(specs: Path) -> None:
    spot = yaml.safe_load((specs / "binance/swagger/spot_api.yaml").read_text())
    out = {
        "source": "binance/binance-api-swagger spot_api.yaml @ 64b327c (official)",
        "responses": {f"{m.upper()} {p}": openapi_200(spot, p, m) for m, p in SPOT},
    }
    (HERE / "binance_spot.json").write_text(json.dumps(out, indent=1, sort_keys=True))
    for name, prefix in (("umfutures", "/fapi/v1"), ("cmfutures", "/dapi/v1")):
        spec = yaml.safe_load((specs / f"binance/unofficial-openxapi/{name}.yaml").read_text())
        responses = {}
        for method, path in FUTURES:
            if prefix + path in spec["paths"] and method in spec["paths"][prefix + path]:
                responses[f"{method.upper()} {prefix}{path}"] = openapi_200(
                    spec, prefix + path, method
                )
        out = {
            "source": f"openxapi/openxapi specs/binance/openapi/{name}.yaml @ e2791e4 "
            "(unofficial, generated from the docs)",
            "responses": responses,
        }
        (HERE / f"binance_{name}.json").write_text(json.dumps(out, indent=1, sort_keys=True))
    bitmex = json.loads((specs / "bitmex/swagger.json").read_text())
    out = {
        "source": "BitMEX/api-connectors swagger.json @ 9f8f5e6 (official, API 1.2.0)",
        "responses": {f"{m.upper()} /api/v1{p}": swagger_200(bitmex, p, m) for m, p in BITMEX},
        "error": inline(bitmex["definitions"]["Error"], bitmex),
    }
    (HERE / "bitmex.json").write_text(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

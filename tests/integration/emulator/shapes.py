"""A small checker of JSON responses against OpenAPI / Swagger response schemas.

Stricter than plain JSON Schema where it matters for fidelity: a field the spec does not
declare is reported (a misspelt or invented field is a bug), and `oneOf` is read as "one of the
documented shapes" (any branch that fits)."""

from __future__ import annotations

from decimal import Decimal

TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def problems(
    value,
    schema: dict,
    where: str = "$",
    *,
    null_ok: bool = False,
    known: frozenset[str] = frozenset(),
    unchecked: str = "",
) -> list[str]:
    """Everything about `value` that the schema does not allow (empty: it conforms).
    `null_ok`: any field may be null (Swagger 2.0 has no `nullable`; BitMEX sends nulls).
    `known`: field names the venue documents but this spec file lacks (accepted undeclared).
    `unchecked`: a substring of paths not checked (parts the spec file models wrongly)."""
    if not schema or (unchecked and unchecked in where):
        return []
    kw = {"null_ok": null_ok, "known": known, "unchecked": unchecked}
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        found = [problems(value, b, where, **kw) for b in branches]
        return [] if any(not f for f in found) else min(found, key=len)
    if value is None:
        return [] if null_ok or schema.get("nullable") else [f"{where}: null not allowed"]
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if kind and not TYPES[kind](value):
        return [f"{where}: expected {kind}, got {type(value).__name__} {value!r:.60}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    found: list[str] = []
    if kind == "array":
        for index, item in enumerate(value[:50]):
            found += problems(item, schema.get("items", {}), f"{where}[{index}]", **kw)
    elif kind == "object":
        declared = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if declared is not None and key in declared:
                found += problems(item, declared[key], f"{where}.{key}", **kw)
            elif isinstance(extra, dict):
                found += problems(item, extra, f"{where}.{key}", **kw)
            elif declared is not None and extra is not True and key not in known:
                found.append(f"{where}.{key}: not declared by the spec")
        for key in schema.get("required", ()):
            if key not in value:
                found.append(f"{where}.{key}: required by the spec, missing")
    return found

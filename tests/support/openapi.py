"""Walk the service's own OpenAPI document: operations, and a minimal valid body per schema.

Used by the tenancy and bad-input suites so that a new route is covered without editing them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def query_params(self) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == "query"]

    def json_body_schema(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return resolve(doc, schema) if schema else None

    @property
    def is_multipart(self) -> bool:
        return "multipart/form-data" in self.spec.get("requestBody", {}).get("content", {})


def operations(doc: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, spec)
        for path, item in doc["paths"].items()
        for method, spec in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def sample(doc: dict[str, Any], schema: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """A small value valid for ``schema``: required properties only, ``overrides`` by name."""
    schema = resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [resolve(doc, s) for s in schema[key] if s.get("type") != "null"]
            return sample(doc, options[0], overrides)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {
            name: overrides[name] if name in overrides else sample(doc, props[name], overrides)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return [
            sample(doc, schema.get("items", {}), overrides)
            for _ in range(max(1, schema.get("minItems", 1)))
        ]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "email":
        return f"{uuid.uuid4().hex[:10]}@example.org"
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return "2031-01-01T00:00:00Z"
    if fmt == "uri":
        return "https://example.org/x"
    return "x" * max(1, schema.get("minLength", 1))

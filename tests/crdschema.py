"""Offline validation of rendered MRs against the real provider CRD schemas in ../shared/crossplane.

Strict like `kubectl apply --validate=strict`: types, required fields, enums, and unknown fields refused (the CRD
schema prunes them silently on a server; here an unknown field is an error, because it would be a silent bug).
The same MRs are validated again by a real API server in the cluster tests.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The shared Crossplane schemas: $REGIONAL_OPERATOR_SHARED or ../shared next to the repository."""
    path = Path(os.environ.get("REGIONAL_OPERATOR_SHARED", REPO.parent / "shared")) / "crossplane"
    if not path.is_dir():
        raise FileNotFoundError(f"Crossplane schemas not found at {path}; set REGIONAL_OPERATOR_SHARED")
    return path


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI v3 (CRD dialect) -> JSON Schema that refuses unknown fields and knows int-or-string."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        preserve = node.get("x-kubernetes-preserve-unknown-fields")
        closed = "properties" in node and "additionalProperties" not in node and not preserve
        if node.get("type") == "object" and closed:
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in (node.get(key) or {}).values():
                walk(child)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key) or []:
                walk(child)

    walk(out)
    return out


@functools.cache
def _schemas() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((shared_dir() / "provider-aws-v2.6.0").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                schema = _strict(version["schema"]["openAPIV3Schema"])
                # metadata is validated by the API server itself, not by the CRD schema
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                found[(f"{group}/{version['name']}", kind)] = schema
    return found


def crd_plural(api_version: str, kind: str) -> str | None:
    """The plural resource name the provider CRD declares for a kind (for checking our kinds table)."""
    group = api_version.split("/", 1)[0]
    for path in (shared_dir() / "provider-aws-v2.6.0").glob(f"{group}_*.yaml"):
        doc = next(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
        if doc["spec"]["names"]["kind"] == kind:
            return str(doc["spec"]["names"]["plural"])
    return None


def validate_mr(obj: dict[str, Any]) -> list[str]:
    """Every schema violation of one MR, as 'path: message' strings (empty when the CRD accepts it)."""
    schema = _schemas().get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if schema is None:
        return [f"no provider CRD for {obj.get('apiVersion')}/{obj.get('kind')}"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{obj['kind']}/{obj['metadata']['name']} {'.'.join(str(p) for p in err.absolute_path)}: {err.message}"
        for err in validator.iter_errors(obj)
    ]

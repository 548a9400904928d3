"""Generate docs/crd-reference.md from the RegionalDeployment CRD: one table per object (field, type, default,
description, validations), the CEL rules with the field each one reports, and the printer columns.

The CRD YAML is the single source; the reference is regenerated, never edited (tests/unit/test_crd_schema.py fails when
the committed file is stale).

    python -m hack.gen_crd_reference           # rewrite docs/crd-reference.md
    python -m hack.gen_crd_reference --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CRD_PATH = REPO / "crds" / "platform.regional.io_regionaldeployments.yaml"
DOC_PATH = REPO / "docs" / "crd-reference.md"
MAX_LISTED_ENUM = 12

# (schema key, how to say it); order is the order in the Validations column.
_BOUNDS = (
    ("minimum", "minimum {}"),
    ("maximum", "maximum {}"),
    ("minLength", "min length {}"),
    ("maxLength", "max length {}"),
    ("minItems", "min items {}"),
    ("maxItems", "max items {}"),
    ("maxProperties", "max entries {}"),
)


def load_schema(path: Path = CRD_PATH) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CRD and the openAPIV3Schema of its (single) version."""
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    return crd, crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def type_of(node: dict[str, Any]) -> str:
    """A Go-like type name: string, []object, map[string]number, ..."""
    kind = node.get("type", "any")
    if kind == "array":
        return "[]" + type_of(node.get("items", {}))
    if kind == "object" and "additionalProperties" in node:
        return "map[string]" + type_of(node["additionalProperties"])
    return str(kind)


def _code(text: Any) -> str:
    value = text if isinstance(text, str) else json.dumps(text)
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def validations(node: dict[str, Any], required: bool, rules: Sequence[dict[str, Any]] = ()) -> list[str]:
    """Everything the API server checks on this one field, in words; `rules` are the CEL rules reporting it."""
    out = ["required"] if required else []
    if node.get("enum"):
        values = node["enum"]
        if len(values) > MAX_LISTED_ENUM:
            out.append(f"one of {len(values)} values ({', '.join(map(str, values[:3]))}, ..., {values[-1]})")
        else:
            out.append("one of " + ", ".join(_code(v) for v in values))
    if "minimum" in node and node.get("exclusiveMinimum"):
        out.append(f"greater than {node['minimum']}")
    for key, words in _BOUNDS:
        if key in node and not (key == "minimum" and node.get("exclusiveMinimum")):
            out.append(words.format(node[key]))
    if "pattern" in node:
        out.append("pattern " + _code(node["pattern"]))
    if "format" in node:
        out.append("format " + node["format"])
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "map":
        out.append("unique by " + ", ".join(node["x-kubernetes-list-map-keys"]))
    elif list_type == "set":
        out.append("items unique")
    items = node.get("items") or {}
    if items.get("type") not in (None, "object", "array"):
        out += [f"each item: {v}" for v in validations(items, False)]
    out += [f"CEL: {' '.join(rule.get('message', rule.get('messageExpression', rule['rule'])).split())}"
            for rule in rules]
    return out


def _fields(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    required = set(node.get("required") or [])
    for name, child in (node.get("properties") or {}).items():
        yield name, child, name in required


def _objects(path: str, node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object with named fields, depth first, as (display path, schema)."""
    if node.get("properties"):
        yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from _objects(f"{path}.{name}", child)
    if "items" in node:
        yield from _objects(path + "[]", node["items"])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _objects(path + ".<key>", extra)


def _rules(path: str, node: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every CEL rule as (where it is declared, the field it reports, the rule)."""
    for rule in node.get("x-kubernetes-validations") or []:
        yield path, path + rule.get("fieldPath", ""), rule
    for name, child in (node.get("properties") or {}).items():
        yield from _rules(f"{path}.{name}", child)
    if "items" in node:
        yield from _rules(path + "[]", node["items"])


def _table(path: str, node: dict[str, Any], rules: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [f"### `{path}`", "", _cell(node.get("description", "")), "",
             "| Field | Type | Default | Description | Validations |", "|---|---|---|---|---|"]
    for name, child, required in _fields(node):
        default = _code(child["default"]) if "default" in child else ""
        checks = validations(child, required, rules.get(f"{path}.{name}", []))
        lines.append("| " + " | ".join([
            f"`{name}`", f"`{type_of(child)}`", _cell(default), _cell(child.get("description", "")),
            _cell("; ".join(checks)),
        ]) + " |")
    return [*lines, ""]


def _immutable_section(schema: dict[str, Any]) -> list[str]:
    """Every transition rule (a rule reading oldSelf): the edits the API server refuses on a stored object, and why.
    The renderer's own check of values that come from the region defaults is described after the table."""
    out = [
        "## Immutable fields and edits refused on a live object",
        "",
        "These CEL transition rules run on every update (never on create): each refuses an edit AWS cannot make in "
        "place (the provider would have to replace the resource, which upjet refuses, leaving the estate "
        "half-changed), or that would rewrite regions nobody touched. `spec.regions` is a list keyed by `name`, so "
        "a rule on a region's field compares the region with the same name before and after; removing a region "
        "and adding one are not edits of a region. Rules on optional fields run only when the old and the new "
        "object both set the field.",
        "",
        "| Field | Rule | Why |",
        "|---|---|---|",
    ]
    for _declared, reports, rule in _rules("", schema):
        if "oldSelf" not in rule["rule"]:
            continue
        out.append(f"| `{reports.lstrip('.')}` | `{_cell(rule['rule'])}` | "
                   f"{_cell(rule.get('message', rule.get('messageExpression', '')))} |")
    out += [
        "",
        "Values that come from the region defaults (a ConfigMap that can change under a live object) cannot be "
        "checked at admission. The renderer compares what it would render with what the provider reports for the "
        "live managed resource (`status.atProvider`) for the fields that force a replacement (VPC and subnet "
        "`cidrBlock`, subnet `availabilityZone`; `operator/regional_operator/render/replacement.py`) and refuses a "
        "change with `Stalled=True`, reason `InvalidSpec`, naming the `spec.regions[i]` field; nothing is "
        "applied. A read replica's source is pinned the same way. Failover is the one way to change the primary: "
        "see `spec.failover` and docs/aws-semantics.md.",
    ]
    return out


def render_reference(path: Path = CRD_PATH) -> str:
    """The whole Markdown document (deterministic: same CRD, same bytes)."""
    crd, schema = load_schema(path)
    spec, version = crd["spec"], crd["spec"]["versions"][0]
    names = spec["names"]
    out = [
        f"# {names['kind']} reference",
        "",
        f"<!-- Generated by hack/gen_crd_reference.py from {CRD_PATH.relative_to(REPO)}; do not edit. -->",
        "",
        f"- API: `{spec['group']}/{version['name']}`, kind `{names['kind']}`, {spec['scope'].lower()}",
        f"- Resource: `{names['plural']}` (short name {', '.join(f'`{n}`' for n in names.get('shortNames', []))}; "
        f"categories {', '.join(f'`{c}`' for c in names.get('categories', []))})",
        "- Status subresource: " + ("yes" if "status" in version.get("subresources", {}) else "no"),
        "",
        _cell(schema.get("description", "")),
        "",
        "Defaults are applied by the API server; `kubectl explain regionaldeployments.spec.regions` shows the same "
        "descriptions.",
        "",
        "## Printer columns (`kubectl get rd`, `-o wide` adds priority 1)",
        "",
        "| Column | JSONPath | Priority | Description |",
        "|---|---|---|---|",
    ]
    for col in version.get("additionalPrinterColumns", []):
        out.append(f"| {col['name']} | `{_cell(col['jsonPath'])}` | {col.get('priority', 0)} | "
                   f"{_cell(col.get('description', ''))} |")
    out += ["", "## CEL rules", "", "| Declared on | Reports | Rule | Message |", "|---|---|---|---|"]
    by_field: dict[str, list[dict[str, Any]]] = {}
    for declared, reports, rule in _rules("", schema):
        by_field.setdefault(reports.lstrip("."), []).append(rule)
        out.append(f"| `{declared.lstrip('.') or '(root)'}` | `{reports.lstrip('.')}` | "
                   f"`{_cell(rule['rule'])}` | {_cell(rule.get('message', rule.get('messageExpression', '')))} |")
    out += ["", *_immutable_section(schema)]
    out += ["", "## Fields", ""]
    for where, node in _objects("", schema):
        if where.lstrip(".") in ("", "metadata"):
            continue
        out += _table(where.lstrip("."), node, by_field)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/crd-reference.md is out of date")
    args = parser.parse_args(argv)
    text = render_reference()
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH.relative_to(REPO)} is out of date: run python -m hack.gen_crd_reference",
                  file=sys.stderr)
            return 1
        return 0
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

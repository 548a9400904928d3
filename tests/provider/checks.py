"""What the provider did to our MRs, checked against the provider's own rules (the fact tables in
../shared/crossplane, extracted from provider-upjet-aws's source): which field a reference fills and what it
copies, and what the external-name annotation holds."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from devtools.controlplane import shared_dir
from tests.provider.estate import EXTERNAL_NAME


@dataclass(frozen=True)
class Reference:
    kind: str
    field: str  # path under spec.forProvider; "[]" marks a list
    ref: str
    target_kind: str
    copies: str  # "external-name" or a status path such as status.atProvider.arn


def references() -> dict[tuple[str, str], list[Reference]]:
    """(group, kind) -> its reference fields, from provider-references-v2.6.0.tsv."""
    table: dict[tuple[str, str], list[Reference]] = {}
    path = shared_dir() / "crossplane" / "provider-references-v2.6.0.tsv"
    with path.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            table.setdefault((row["group"], row["kind"]), []).append(
                Reference(row["kind"], row["field"], row["ref"], row["target_kind"], row["copies"]))
    return table


def external_name_configs() -> dict[tuple[str, str], str]:
    """(group, kind) -> the provider's external-name configuration (e.g. config.IdentifierFromProvider)."""
    path = shared_dir() / "crossplane" / "provider-external-names-v2.6.0.tsv"
    with path.open() as fh:
        return {(r["group"], r["kind"]): r["external_name_config"] for r in csv.DictReader(fh, delimiter="\t")}


def _containers(node: Any, parts: list[str]) -> Iterator[dict[str, Any]]:
    """The dicts that hold the last path segment (walking "a[].b" through every list item)."""
    if not parts:
        if isinstance(node, dict):
            yield node
        return
    head, rest = parts[0], parts[1:]
    child = node.get(head.removesuffix("[]")) if isinstance(node, dict) else None
    if child is None:
        return
    for item in child if isinstance(child, list) else [child]:
        yield from _containers(item, rest)


def _value(obj: dict[str, Any], copies: str) -> Any:
    if copies == "external-name":
        return obj["metadata"].get("annotations", {}).get(EXTERNAL_NAME)
    node: Any = obj
    for part in copies.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@dataclass(frozen=True)
class Resolution:
    mr: str
    field: str
    got: Any
    want: Any


def resolutions(mrs: list[dict[str, Any]]) -> list[Resolution]:
    """Every reference our MRs carry (``…Ref``/``…Refs`` by name), with what the provider wrote into the field
    and what the provider's rule says it copies from the target MR."""
    refs = references()
    index = {(m["kind"], m["metadata"]["name"]): m for m in mrs}
    found: list[Resolution] = []
    for mr in mrs:
        group = mr["apiVersion"].split("/")[0]
        for ref in refs.get((group, mr["kind"]), []):
            *parents, leaf = ref.field.split(".")
            for holder in _containers(mr["spec"].get("forProvider") or {}, parents):
                if ref.ref not in holder:
                    continue
                named = holder[ref.ref] if isinstance(holder[ref.ref], list) else [holder[ref.ref]]
                targets = [index.get((ref.target_kind, r["name"])) for r in named]
                want = [_value(t, ref.copies) if t else None for t in targets]
                got = holder.get(leaf.removesuffix("[]"))
                if not leaf.endswith("[]"):
                    want = want[0]  # type: ignore[assignment]
                found.append(Resolution(f"{mr['kind']}/{mr['metadata']['name']}", ref.field, got, want))
    return found

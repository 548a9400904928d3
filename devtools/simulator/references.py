"""TEST-ONLY: the provider's reference contract, from its own source. Never shipped.

Two fact tables made from provider-upjet-aws v2.6.0 (``../shared/crossplane``, see its README):

- ``provider-references-v2.6.0.tsv``: every Ref/Selector of the namespaced kinds, the kind it points at and what
  the generated resolver copies from it (the target's external name, ``status.atProvider.<x>`` or
  ``spec.forProvider.<x>``);
- ``provider-external-names-v2.6.0.tsv``: per kind, what the external name holds and whether it may be set before
  creation.

The simulator resolves references with these rows exactly as the provider's ``ResolveReferences`` does (copy the
extracted value into ``spec.forProvider`` when the field is unset; an empty value or a missing target is an error
that leaves the MR ``Synced=False``), and tests/unit/render/test_provider_contract.py checks rendered MRs against them.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

EXTERNAL_NAME: Final = "crossplane.io/external-name"
REFERENCES_TSV: Final = "provider-references-v2.6.0.tsv"
EXTERNAL_NAMES_TSV: Final = "provider-external-names-v2.6.0.tsv"
GROUP_SUFFIX: Final = ".aws.m.upbound.io"
# crossplane-runtime's messages (pkg/reference/reference.go, pkg/reconciler/managed/reconciler.go)
ERR_RESOLVE: Final = "cannot resolve references"
ERR_EMPTY: Final = "referenced field was empty (referenced resource may not yet be ready)"
ERR_NO_MATCH: Final = "no resources matched selector"


def shared_dir() -> Path:
    """The shared Crossplane facts: $REGIONAL_OPERATOR_SHARED/crossplane or ../shared/crossplane."""
    repo = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("REGIONAL_OPERATOR_SHARED", repo.parent / "shared")) / "crossplane"


def kind_key(group: str, kind: str) -> str:
    """``ec2.aws.m.upbound.io`` + ``VPC`` -> ``ec2/VPC`` (the key of regional_operator.render.kinds)."""
    return f"{group.removesuffix(GROUP_SUFFIX)}/{kind}"


@dataclass(frozen=True)
class Reference:
    """One row of the references table: ``field`` under spec.forProvider (``[]`` marks lists)."""

    kind: str  # svc/Kind that has the field
    field: str
    ref: str
    selector: str
    target: str  # svc/Kind it points at (may be a kind the renderer never emits)
    extractor: str
    copies: str
    note: str

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))[:-1]

    @property
    def leaf(self) -> str:
        return self.field.split(".")[-1].removesuffix("[]")

    @property
    def is_list(self) -> bool:
        return self.field.endswith("[]")


@dataclass(frozen=True)
class ExternalName:
    """One row of the external-names table."""

    kind: str
    config: str
    holds: str
    set_before_create: str

    @property
    def user_may_set(self) -> bool:
        """Name-style kinds: the annotation is the AWS name and may be chosen before creation."""
        return self.set_before_create.startswith("yes")

    @property
    def aws_assigned(self) -> bool:
        """Setting the annotation means "import this existing resource": AWS (or the provider) assigns it."""
        return self.set_before_create.startswith("only to import")


def _rows(name: str) -> list[dict[str, str]]:
    with (shared_dir() / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@functools.cache
def references() -> dict[str, tuple[Reference, ...]]:
    """svc/Kind -> its references (namespaced group only)."""
    out: dict[str, list[Reference]] = {}
    for row in _rows(REFERENCES_TSV):
        key = kind_key(row["group"], row["kind"])
        out.setdefault(key, []).append(Reference(
            key, row["field"], row["ref"], row["selector"], kind_key(row["target_group"], row["target_kind"]),
            row["extractor"], row["copies"], row["note"]))
    return {k: tuple(v) for k, v in out.items()}


@functools.cache
def external_names() -> dict[str, ExternalName]:
    return {kind_key(r["group"], r["kind"]): ExternalName(kind_key(r["group"], r["kind"]), r["external_name_config"],
                                                          r["annotation_holds"], r["set_before_create"])
            for r in _rows(EXTERNAL_NAMES_TSV)}


def containers(for_provider: Mapping[str, Any], ref: Reference) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every dict that holds ``ref``'s field (one per item of each ``[]`` parent), with its JSON path."""
    def walk(node: Any, parts: tuple[str, ...], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(node, dict):
            return
        if not parts:
            yield path, node
            return
        head, rest = parts[0], parts[1:]
        name = head.removesuffix("[]")
        child = node.get(name)
        if head.endswith("[]"):
            for i, item in enumerate(child if isinstance(child, list) else []):
                yield from walk(item, rest, f"{path}.{name}[{i}]")
        else:
            yield from walk(child, rest, f"{path}.{name}")

    yield from walk(for_provider, ref.parents, "spec.forProvider")


def ref_names(container: Mapping[str, Any], ref: Reference) -> list[str] | None:
    """The MR names a Ref/Refs names in one container, or None when it uses no Ref there."""
    value = container.get(ref.ref)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [str((item or {}).get("name", "")) for item in items]


def extract(target: Mapping[str, Any], copies: str) -> Any:
    """What the resolver copies from a target MR (None when empty)."""
    if copies == "external-name":
        value: Any = ((target.get("metadata") or {}).get("annotations") or {}).get(EXTERNAL_NAME)
    elif copies.startswith("status.atProvider."):
        value = ((target.get("status") or {}).get("atProvider") or {}).get(copies.removeprefix("status.atProvider."))
    elif copies.startswith("spec.forProvider."):
        value = ((target.get("spec") or {}).get("forProvider") or {}).get(copies.removeprefix("spec.forProvider."))
    else:
        raise ValueError(f"unknown extractor target {copies!r}")
    return value if value not in (None, "") else None


Lookup = Callable[[str, str], Mapping[str, Any] | None]  # (svc/Kind, name) -> the MR in the same namespace
Select = Callable[[str, Mapping[str, str]], list[Mapping[str, Any]]]  # (svc/Kind, matchLabels) -> MRs


@dataclass(frozen=True)
class Resolution:
    """The forProvider fields a reconcile would fill, or the error it would report (provider's wording);
    ``waits_on`` are the (svc/Kind, name) targets whose change could make it resolve."""

    fields: dict[str, Any]
    error: str | None
    waits_on: tuple[tuple[str, str], ...]


def resolve(kind: str, for_provider: Mapping[str, Any], lookup: Lookup, select: Select | None = None) -> Resolution:
    """Resolve every Ref/Selector of one MR like the provider: a field already set is kept (policy.resolve
    defaults to IfNotPresent); otherwise the extracted value of the named (or first selected) target is copied.

    Returns the full top-level forProvider values that change (lists and nested objects rebuilt whole, as a
    merge patch must send them)."""
    patched: dict[str, Any] = {}
    errors: list[str] = []
    waits: list[tuple[str, str]] = []
    work = _deep_copy(for_provider)
    for ref in references().get(kind, ()):
        for path, container in containers(work, ref):
            if container.get(ref.leaf) not in (None, "", []):
                continue
            targets: list[tuple[str, Mapping[str, Any] | None]] = []
            names = ref_names(container, ref)
            if names is not None:
                targets = [(n, lookup(ref.target, n)) for n in names]
            elif isinstance(container.get(ref.selector), dict) and select is not None:
                labels = (container[ref.selector] or {}).get("matchLabels") or {}
                found = select(ref.target, labels)
                if not found:
                    errors.append(f"{path}.{ref.leaf}: {ERR_NO_MATCH}")
                    continue
                chosen = found if ref.is_list else found[:1]
                targets = [(str(t["metadata"]["name"]), t) for t in chosen]
            else:
                continue
            values = []
            for name, target in targets:
                waits.append((ref.target, name))
                if target is None:
                    group, target_kind = ref.target.split("/")
                    errors.append(f"{path}.{ref.leaf}: cannot get referenced resource: "
                                  f"{target_kind}.{group}{GROUP_SUFFIX} \"{name}\" not found")
                    continue
                value = extract(target, ref.copies)
                if value is None:
                    errors.append(f"{path}.{ref.leaf}: {ERR_EMPTY}")
                    continue
                values.append(value)
            if len(values) == len(targets) and values:
                container[ref.leaf] = values if ref.is_list else values[0]
                top = ref.field.split(".")[0].removesuffix("[]")
                patched[top] = work[top]
    if errors:
        return Resolution({}, f"{ERR_RESOLVE}: {'; '.join(errors)}", tuple(waits))
    return Resolution(patched, None, tuple(waits))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value

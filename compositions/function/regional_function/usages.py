"""Deletion order on the Crossplane path: protection.crossplane.io Usages generated from the same tier table.

The operator deletes tier by tier (render/kinds.py: lower tiers first). Crossplane deletes every composed
resource of an XR at once, so the order has to be held by Usages: for each dependency "A uses B" where B's
deletion tier is higher than A's, a Usage of B by A. Crossplane's Usage webhook refuses to delete B while the
Usage exists, and a composed Usage is only removed once A is gone (crossplane internal/controller/protection/
usage/reconciler.go), so B outlives everything that uses it; `replayDeletion` re-issues the refused delete at once.

Dependencies come from the renderer itself, never guessed from names:
- references: every `...Ref`/`...Refs` an MR carries under forProvider/initProvider, the target kind read from
  the provider's reference table (data/reference-targets.json, generated from provider-references-v2.6.0.tsv);
- observed values: every value a dependent copies from another MR's status.atProvider. A render with nothing
  observed lists each such read as a Pending (dependent, source MR and attribute); dependents rendered in the
  same step as the one pending (the peering routes next to the accepter) are found by the value itself: a
  forProvider field equal to the source's observed attribute;
- ARNs the renderer builds itself for MRs identified by name (alarm actions -> the SNS topic, the event source
  mapping -> its queue, the task role): a forProvider ARN whose service and last resource segment are another
  MR's service and AWS name (external name, forProvider.name, or metadata.name).
Only edges that go up the tier table become Usages, so they can never form a cycle that blocks deletion.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from regional_operator.reconcile.tiers import kind_of, tier_of
from regional_operator.render.context import LABEL_DEPLOYMENT, LABEL_MANAGED_BY, LABEL_REGION, MANAGED_BY, Pending
from regional_operator.render.kinds import KINDS
from regional_operator.render.observed import Observed

USAGE_API_VERSION: Final = "protection.crossplane.io/v1beta1"
USAGE_KIND: Final = "Usage"
# Sensitive parameters (passwordSecretRef, ...) select a key of a Kubernetes Secret (xpv1.SecretKeySelector), named
# `<field>SecretRef` by upjet; they are not MR references and are absent from the provider's reference table.
SECRET_REF: Final = "SecretRef"  # noqa: S105 - a field-name suffix, not a secret
MAX_NAME: Final = 253  # a Usage is named like any object: a DNS subdomain
_WAITS_FOR: Final = re.compile(r"^(?P<kind>[A-Za-z0-9]+)/(?P<name>[^ ]+) status\.atProvider\.(?P<attribute>[A-Za-z]+)$")


@dataclass(frozen=True, order=True)
class Dependency:
    """`by` (kind, name) uses `of` (kind, name); both are rendered MRs."""

    by: tuple[str, str]
    of: tuple[str, str]


@cache
def reference_targets() -> dict[str, dict[str, str]]:
    """`<group>/<Kind>` -> {ref path under forProvider -> `<group>/<TargetKind>`}, for the kinds we render."""
    text = resources.files(__package__).joinpath("data/reference-targets.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def _ref_names(value: Any) -> list[str]:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return [value["name"]]
    if isinstance(value, list):
        return [v["name"] for v in value if isinstance(v, Mapping) and isinstance(v.get("name"), str)]
    return []


def references(obj: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(ref path, target `<group>/<Kind>`, target name) of every reference `obj` carries.

    A reference the table does not know is a renderer change the table has not caught up with: it raises, so a
    test (and never a user's deletion) finds it.
    """
    kind = kind_of(obj)
    table = reference_targets().get(f"{kind.group}/{kind.kind}", {})
    found: list[tuple[str, str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                here = f"{path}.{key}" if path else str(key)
                if key.endswith(SECRET_REF):
                    continue  # a Secret key selector (name + key), not an MR: no Usage, nothing to order
                if key.endswith(("Ref", "Refs")) and _ref_names(value):
                    if here not in table:
                        raise KeyError(f"{kind.key}: reference {here} is not in data/reference-targets.json")
                    found.extend((here, table[here], name) for name in _ref_names(value))
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, f"{path}[]")

    spec = obj.get("spec") or {}
    for section in ("forProvider", "initProvider"):
        walk(spec.get(section) or {}, "")
    return found


def _observed_read(pending: Pending) -> tuple[str, str, str] | None:
    """(kind, name, attribute) of the status value a Pending waits for."""
    match = _WAITS_FOR.match(pending.waits_for)
    return (match["kind"], match["name"], match["attribute"]) if match else None


def _leaves(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    elif isinstance(node, str):
        yield node


# ARN service names that differ from the provider's API group (arn:aws:logs:... for cloudwatchlogs).
ARN_SERVICE: Final = {"cloudwatchlogs": "logs", "cloudwatch": "cloudwatch"}
EXTERNAL_NAME: Final = "crossplane.io/external-name"


def _aws_names(obj: Mapping[str, Any]) -> set[str]:
    meta = obj["metadata"]
    names = {str(meta["name"])}
    external = (meta.get("annotations") or {}).get(EXTERNAL_NAME)
    if external:
        names.add(str(external))
    name = ((obj.get("spec") or {}).get("forProvider") or {}).get("name")
    if isinstance(name, str) and name:
        names.add(name)
    return names


def _arn_candidates(value: str) -> list[tuple[str, str]]:
    """(service, name) an ARN may name: its whole resource part and its last `/`- or `:`-segment."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return []
    service, res = parts[2], parts[5]
    return [(service, c) for c in {res, res.rsplit("/", 1)[-1], res.rsplit(":", 1)[-1]} if c]


def dependencies(resources_: Sequence[Mapping[str, Any]], unobserved_pending: Iterable[Pending],
                 observed: Observed) -> list[Dependency]:
    """Every "A uses B" among `resources_` (the rendered MRs), from their references, from the pending list of a
    render with nothing observed (`unobserved_pending`), and from values copied out of `observed` status."""
    by_name: dict[tuple[str, str], Mapping[str, Any]] = {}
    group_of: dict[tuple[str, str], str] = {}
    for obj in resources_:
        key = (str(obj["kind"]), str(obj["metadata"]["name"]))
        by_name[key] = obj
        group_of[key] = kind_of(obj).group
    found: set[Dependency] = set()
    for key, obj in by_name.items():
        for _, target, name in references(obj):
            target_group, _, target_kind = target.partition("/")
            of = (target_kind, name)
            if of in by_name and group_of[of] == target_group and of != key:
                found.add(Dependency(key, of))
    copied: dict[str, tuple[str, str]] = {}  # an observed value the renderer copies -> the MR it comes from
    for pending in unobserved_pending:
        read = _observed_read(pending)
        if read is None:
            continue
        source, by = (read[0], read[1]), (pending.kind, pending.name)
        if by in by_name and source in by_name and source != by:
            found.add(Dependency(by, source))
        value = observed.attribute(read[0], read[1], read[2])
        if value is not None:
            copied[value] = source
    named: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key, obj in by_name.items():
        service = kind_of(obj).service
        for aws_name in _aws_names(obj):
            named.setdefault((ARN_SERVICE.get(service, service), aws_name), set()).add(key)
    for key, obj in by_name.items():
        for leaf in _leaves((obj.get("spec") or {}).get("forProvider") or {}):
            sources = {copied[leaf]} if leaf in copied else set()
            for candidate in _arn_candidates(leaf):
                sources |= named.get(candidate, set())
            found.update(Dependency(key, source) for source in sources if source != key)
    return sorted(found)


def usage_name(dep: Dependency) -> str:
    name = f"{dep.by[0].lower()}-{dep.by[1]}-uses-{dep.of[0].lower()}-{dep.of[1]}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[:MAX_NAME - 17]}-{digest}"


def usages(resources_: Sequence[Mapping[str, Any]], unobserved_pending: Iterable[Pending], observed: Observed,
           deployment: str) -> list[dict[str, Any]]:
    """The Usage objects that hold deletion in tier order for this set of rendered MRs."""
    by_key = {(str(o["kind"]), str(o["metadata"]["name"])): o for o in resources_}
    out: list[dict[str, Any]] = []
    for dep in dependencies(resources_, unobserved_pending, observed):
        using, used = by_key[dep.by], by_key[dep.of]
        if tier_of(used) <= tier_of(using):
            continue  # the operator deletes these together or the other way round: no order to hold
        out.append({
            "apiVersion": USAGE_API_VERSION,
            "kind": USAGE_KIND,
            "metadata": {
                "name": usage_name(dep),
                "namespace": used["metadata"]["namespace"],
                "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_DEPLOYMENT: deployment,
                           LABEL_REGION: using["metadata"]["labels"][LABEL_REGION]},
            },
            "spec": {
                "of": {"apiVersion": used["apiVersion"], "kind": used["kind"],
                       "resourceRef": {"name": used["metadata"]["name"]}},
                "by": {"apiVersion": using["apiVersion"], "kind": using["kind"],
                       "resourceRef": {"name": using["metadata"]["name"]}},
                "reason": f"deletion tier {tier_of(using)} before tier {tier_of(used)} (regional-operator tier table)",
                "replayDeletion": True,
            },
        })
    return out


def known_kinds() -> set[str]:
    """`<group>/<Kind>` of every kind the renderer emits (the reference table's keys must be among them)."""
    return {f"{k.group}/{k.kind}" for k in KINDS.values()}

"""Computing the RegionalDeployment's status from the desired MRs, the live MRs and the render result.

Everything the renderer knew (regions, what is pending where, thresholds, where outputs are read) comes from the
RenderResult; this module only judges live MRs against it. Messages name the MR (Kind/name) and its reason, so
users never have to dig for the failing child.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..identity import MRKey, key_of
from ..readiness import readiness
from ..render import RenderResult, links, uploads
from ..render.context import LABEL_COMPONENT, LABEL_REGION, Pending
from .adoption import drift_condition, stalled_by_adoption
from .conditions import MAX_LISTED, READY, Condition, Conditions, kstatus, stuck

REPLICATION_KINDS = frozenset({"BucketReplicationConfiguration", "Table"})
# (component, kind) of the pending items that are replication: the S3 replication role's policy and configuration
REPLICATION_PENDING = frozenset({(uploads.COMPONENT, "RolePolicy"),
                                 (uploads.COMPONENT, "BucketReplicationConfiguration")})


@dataclass
class Problem:
    """Why one desired MR is not fresh-ready (or why it could not be applied)."""

    kind: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.reason}"


@dataclass
class Assessment:
    """Per-MR readiness of everything we want, grouped the ways the conditions need."""

    total: int = 0
    ready: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_by_region: dict[str, list[Problem]] = field(default_factory=dict)
    problems_by_component: dict[str, list[Problem]] = field(default_factory=dict)
    problems_by_kind: dict[str, list[Problem]] = field(default_factory=dict)
    kinds_present: set[str] = field(default_factory=set)


def assess(desired: Sequence[Mapping[str, Any]], live: Mapping[MRKey, Mapping[str, Any]],
           apply_errors: Mapping[MRKey, str]) -> Assessment:
    out = Assessment(total=len(desired))
    for obj in desired:
        key = key_of(obj)
        labels = obj["metadata"]["labels"]
        out.kinds_present.add(key[0])
        current = live.get(key)
        if key in apply_errors:
            ok, why = False, f"apply failed: {apply_errors[key]}"
        elif current is None:
            ok, why = False, "not created yet"
        else:
            ok, why = readiness(current)
        if ok:
            out.ready += 1
            continue
        problem = Problem(key[0], key[1], why)
        out.problems.append(problem)
        out.problems_by_region.setdefault(labels[LABEL_REGION], []).append(problem)
        out.problems_by_component.setdefault(labels[LABEL_COMPONENT], []).append(problem)
        out.problems_by_kind.setdefault(key[0], []).append(problem)
    return out


def _listing(items: Sequence[object]) -> str:
    shown = "; ".join(str(i) for i in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _aggregate(name: str, problems: Sequence[Problem], pending: Sequence[Pending], ok_reason: str,
               ok_message: str) -> Condition:
    if not problems and not pending:
        return Condition(name, True, ok_reason, ok_message)
    reason = "Pending" if not problems else "NotReady"
    return Condition(name, False, reason, _listing([*problems, *pending]))


def threshold_summary(thresholds: Mapping[str, Mapping[str, float]]) -> str:
    return "; ".join(f"{region}: " + ", ".join(f"{k}={v:g}" for k, v in sorted(t.items()))
                     for region, t in sorted(thresholds.items()))


def conditions_for(result: RenderResult, a: Assessment,
                   live: Mapping[MRKey, Mapping[str, Any]] | None = None) -> Conditions:
    """Ready, Reconciling/Stalled (kstatus), a condition per region, PeeringReady, ReplicationReady,
    AlarmsConfigured and, with adopted resources, AdoptionDrift (and Stalled when adoption needs the user)."""
    pending = result.pending
    progress = f"{a.ready}/{a.total} managed resources ready"
    conds = kstatus(_aggregate(READY, a.problems, pending, "AllResourcesReady", progress), progress)
    for region in result.regions:
        pend = [p for p in pending if p.region == region.name]
        conds.set(_aggregate(f"RegionReady.{region.name}", a.problems_by_region.get(region.name, []), pend,
                                "RegionReady", f"every managed resource in {region.name} is ready"))
    peering_pending = [p for p in pending if p.component == links.COMPONENT]
    conds.set(_aggregate("PeeringReady", a.problems_by_component.get(links.COMPONENT, []), peering_pending,
                            "PeeringActive", "every secondary is peered with the primary, routes on both sides"))
    replication_problems = [p for p in a.problems if p.kind in REPLICATION_KINDS]
    replication_pending = [p for p in pending if (p.component, p.kind) in REPLICATION_PENDING]
    conds.set(_aggregate("ReplicationReady", replication_problems, replication_pending, "Replicating",
                            "S3 replication and DynamoDB global table replicas are ready"))
    alarm_pending = [p for p in pending if p.kind == "MetricAlarm"]
    conds.set(_aggregate("AlarmsConfigured", a.problems_by_kind.get("MetricAlarm", []), alarm_pending,
                            "AlarmsActive", threshold_summary(result.thresholds)))
    if result.adopted or result.blocked:
        _adoption(conds, result, live or {})
    return conds


def _adoption(conds: Conditions, result: RenderResult, live: Mapping[MRKey, Mapping[str, Any]]) -> None:
    """Stalled (Ready False) while adoption waits for the user; AdoptionDrift while a component is observed only."""
    stall = stalled_by_adoption(result, live)
    if stall is not None:
        reason, message = stall
        conds.set(*stuck(reason, message, message))
    drift = drift_condition(result, live)
    if drift is not None:
        conds.set(drift)


def stalled_conditions(field_path: str, rule: str) -> Conditions:
    """An invalid spec: nothing is rendered or touched; kstatus Stalled tells GitOps tools to stop waiting."""
    message = f"{field_path}: {rule}"
    return stuck("InvalidSpec", message, message)


def outputs_for(result: RenderResult, live: Mapping[MRKey, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Per-region values users need (VPC id, ALB DNS name, DB endpoint, bucket ARN, queue URL, peering id), read
    where the render result says each one is."""
    out: dict[str, dict[str, str]] = {r.name: {} for r in result.regions}
    for source in result.outputs:
        current = live.get((source.kind, source.name))
        value = ((current or {}).get("status") or {}).get("atProvider", {}).get(source.attribute)
        if isinstance(value, str) and value:
            out.setdefault(source.region, {})[source.output] = value
    return out

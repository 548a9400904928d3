"""Computing the RegionalDeployment's status from the desired MRs, the live MRs and the renderer's pending list.

Messages name the MR (Kind/name) and its reason, so users never have to dig for the failing child.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..render.context import LABEL_COMPONENT, LABEL_REGION, Pending
from .conditions import Condition
from .facts import MAX_LISTED, MRKey, key_of, readiness

REPLICATION_KINDS = frozenset({"BucketReplicationConfiguration", "Table"})


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


def conditions_for(regions: Mapping[str, str], a: Assessment, pending: Sequence[Pending],
                   thresholds_summary: str) -> list[Condition]:
    """Ready, Reconciling/Stalled (kstatus), a condition per region, PeeringReady, ReplicationReady and
    AlarmsConfigured."""
    ready = _aggregate("Ready", a.problems, pending, "AllResourcesReady",
                       f"{a.ready}/{a.total} managed resources ready")
    conds = [
        ready,
        Condition("Reconciling", not ready.status, "Progressing" if not ready.status else "Converged",
                  f"{a.ready}/{a.total} managed resources ready" if not ready.status else ""),
        Condition("Stalled", False, "NoErrors"),
    ]
    for region, code in regions.items():
        # names end in -<regioncode> (global tables excepted), so that is how a pending MR maps to a region
        pend = [p for p in pending if p.name.endswith(f"-{code}") or f"-{code}-" in p.name]
        conds.append(_aggregate(f"RegionReady.{region}", a.problems_by_region.get(region, []), pend,
                                "RegionReady", f"every managed resource in {region} is ready"))
    peering_pending = [p for p in pending if p.kind in ("VPCPeeringConnectionAccepter", "Route")]
    conds.append(_aggregate("PeeringReady", a.problems_by_component.get("peering", []), peering_pending,
                            "PeeringActive", "every secondary is peered with the primary, routes on both sides"))
    replication_problems = [p for p in a.problems if p.kind in REPLICATION_KINDS]
    replication_pending = [p for p in pending if p.kind in REPLICATION_KINDS | {"RolePolicy"}
                           and "replication" in p.name]
    conds.append(_aggregate("ReplicationReady", replication_problems, replication_pending, "Replicating",
                            "S3 replication and DynamoDB global table replicas are ready"))
    alarm_pending = [p for p in pending if p.kind == "MetricAlarm"]
    conds.append(_aggregate("AlarmsConfigured", a.problems_by_kind.get("MetricAlarm", []), alarm_pending,
                            "AlarmsActive", thresholds_summary))
    return conds


def stalled_conditions(field_path: str, rule: str) -> list[Condition]:
    """An invalid spec: nothing is rendered or touched; kstatus Stalled tells GitOps tools to stop waiting."""
    message = f"{field_path}: {rule}"
    return [
        Condition("Ready", False, "InvalidSpec", message),
        Condition("Reconciling", False, "InvalidSpec", ""),
        Condition("Stalled", True, "InvalidSpec", message),
    ]


# (output name, kind, MR name predicate by component, atProvider attribute)
OUTPUTS: tuple[tuple[str, str, str, str], ...] = (
    ("vpcId", "VPC", "network", "id"),
    ("albDnsName", "LB", "edge", "dnsName"),
    ("databaseEndpoint", "Instance", "database", "address"),
    ("uploadsBucketArn", "Bucket", "uploads", "arn"),
    ("queueUrl", "Queue", "payments", "url"),
    ("peeringConnectionId", "VPCPeeringConnection", "peering", "id"),
)


def outputs_for(regions: Sequence[str], desired: Sequence[Mapping[str, Any]],
                live: Mapping[MRKey, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Per-region values users need (VPC id, ALB DNS name, DB endpoint, bucket ARN, queue URL, peering id)."""
    out: dict[str, dict[str, str]] = {r: {} for r in regions}
    for obj in desired:
        labels = obj["metadata"]["labels"]
        for output, kind, component, attribute in OUTPUTS:
            if obj["kind"] != kind or labels.get(LABEL_COMPONENT) != component:
                continue
            if kind == "Queue" and "dlq" in obj["metadata"]["name"]:
                continue
            current = live.get(key_of(obj))
            value = ((current or {}).get("status") or {}).get("atProvider", {}).get(attribute)
            if isinstance(value, str) and value:
                region = labels[LABEL_REGION]
                if kind == "VPCPeeringConnection":  # the requester lives in the primary, named per secondary
                    region = obj["spec"]["forProvider"]["peerRegion"]
                out.setdefault(region, {})[output] = value
    return out


def thresholds_in_force(desired: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """The alarm thresholds in force, per region and alarm name, as rendered (visible in status)."""
    out: dict[str, dict[str, float]] = {}
    for obj in desired:
        if obj["kind"] == "MetricAlarm":
            region = obj["metadata"]["labels"][LABEL_REGION]
            out.setdefault(region, {})[obj["metadata"]["name"]] = float(obj["spec"]["forProvider"]["threshold"])
    return out


def threshold_summary(thresholds: Mapping[str, Mapping[str, float]]) -> str:
    """The AlarmsConfigured message: every region's thresholds, sorted."""
    return "; ".join(f"{region}: " + ", ".join(f"{k}={v:g}" for k, v in sorted(t.items()))
                     for region, t in sorted(thresholds.items()))

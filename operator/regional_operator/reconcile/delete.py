"""Deleting a RegionalDeployment in dependency order.

Lowest deletion tier first (replication, peering routes and accepters, associations, event mappings, alarms;
then consumers; then services and data; then network parts and IAM; then VPCs and aliases; KMS keys last),
and each tier must be gone - the provider has removed the cloud resource and its finalizer - before the next
tier is asked to go. The finalizer on the CR stays until every owned MR is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import metrics
from ..identity import key_of
from ..kube import KubeClient
from ..render.adoption import ADOPTED_ANNOTATION
from .conditions import MAX_LISTED
from .resources import ref_of
from .tiers import tier_of


@dataclass
class DeletionProgress:
    done: bool
    tier: int | None = None
    requested: list[str] = field(default_factory=list)
    waiting_for: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.done:
            return "every managed resource is gone"
        shown = ", ".join(self.waiting_for[:MAX_LISTED])
        more = len(self.waiting_for) - MAX_LISTED
        return (f"deleting tier {self.tier}: waiting for {shown}" + (f" and {more} more" if more > 0 else ""))


def retained(obj: Mapping[str, Any]) -> bool:
    """An MR whose managementPolicies leave out Delete: deleting it orphans the cloud resource on purpose."""
    policies = (obj.get("spec") or {}).get("managementPolicies") or ["*"]
    return "*" not in policies and "Delete" not in policies


async def delete_step(client: KubeClient, owned: Sequence[Mapping[str, Any]]) -> DeletionProgress:
    """One idempotent step: ask the lowest remaining tier to go, report what we wait for."""
    if not owned:
        return DeletionProgress(done=True)
    tier = min(tier_of(o) for o in owned)
    progress = DeletionProgress(done=False, tier=tier)
    for obj in sorted(owned, key=key_of):
        if tier_of(obj) != tier:
            continue
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        progress.waiting_for.append(label)
        if obj["metadata"].get("deletionTimestamp"):
            continue
        if retained(obj):
            adopted = (obj["metadata"].get("annotations") or {}).get(ADOPTED_ANNOTATION)
            progress.orphaned.append(f"{label} (adopted, {adopted})" if adopted else label)
        await client.delete(ref_of(obj), obj["metadata"]["namespace"], obj["metadata"]["name"])
        metrics.MR_DELETES.labels(obj["kind"]).inc()
        progress.requested.append(label)
    return progress

"""Status of adopted resources: an identifier AWS does not know -> Stalled naming the MR and the identifier; a
requirement an adopted source does not meet -> Stalled naming what must change; while observed only,
AdoptionDrift lists the settings Manage would change. Pure: RenderResult + live MRs in, conditions out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regional_operator.identity import MRKey
from regional_operator.reconcile.adoption import ADOPTION_DRIFT, NOT_FOUND, setting_differences
from regional_operator.reconcile.conditions import STALLED
from regional_operator.reconcile.delete import DeletionProgress, retained
from regional_operator.reconcile.loop import MAX_EVENT_MESSAGE, deletion_events
from regional_operator.reconcile.status import assess, conditions_for
from regional_operator.render import RenderResult
from regional_operator.render.adoption import Adopted, Blocked

VPC_ID = "vpc-0a1b2c3d4e5f60718"


def _vpc(policies: list[str]) -> dict[str, Any]:
    return {"apiVersion": "ec2.aws.m.upbound.io/v1beta1", "kind": "VPC",
            "metadata": {"name": "vpc-a", "labels": {"platform.regional.io/region": "us-east-1",
                                                     "platform.regional.io/component": "network"}},
            "spec": {"managementPolicies": policies,
                     "forProvider": {"cidrBlock": "10.10.0.0/16", "enableDnsHostnames": True,
                                     "enableDnsSupport": True, "tags": {"Name": "vpc-a", "CostCenter": "cc"},
                                     "region": "us-east-1"}}}


def _result(mode: str = "Observe", blocked: tuple[Blocked, ...] = ()) -> RenderResult:
    adopted = Adopted("spec.regions[0].adopt.vpc.id", VPC_ID, VPC_ID, mode, "Orphan")
    return RenderResult((_vpc(adopted.management_policies(seen=True)),), (), adopted={("VPC", "vpc-a"): adopted},
                        blocked=blocked)


def _live(synced: dict[str, Any], **at_provider: Any) -> dict[MRKey, dict[str, Any]]:
    return {("VPC", "vpc-a"): {"kind": "VPC", "metadata": {"name": "vpc-a", "generation": 1},
                               "status": {"atProvider": at_provider, "conditions": [
                                   synced, {"type": "Ready", "status": "True", "observedGeneration": 1}]}}}


SYNCED = {"type": "Synced", "status": "True", "observedGeneration": 1}
REAL = {"cidrBlock": "10.10.0.0/16", "enableDnsHostnames": False, "enableDnsSupport": True,
        "tags": {"Name": "legacy", "CostCenter": "cc"}, "region": "us-east-1"}


def _conditions(result: RenderResult, live: dict[MRKey, dict[str, Any]]) -> dict[str, Any]:
    conds = conditions_for(result, assess(result.resources, live, {}), live)
    return {c.type: c for c in conds}


def test_unknown_identifier_is_stalled_naming_the_mr_and_the_identifier() -> None:
    live = _live({"type": "Synced", "status": "False", "reason": "ReconcileError",
                  "message": f"observe failed: {NOT_FOUND}", "observedGeneration": 1})
    stalled = _conditions(_result(), live)[STALLED]
    assert stalled.status is True and stalled.reason == "AdoptedResourceNotFound"
    assert "VPC/vpc-a" in stalled.message and VPC_ID in stalled.message
    assert "spec.regions[0].adopt.vpc.id" in stalled.message


def test_blocked_requirement_is_stalled_naming_what_must_change() -> None:
    blocked = (Blocked("Table", "sessions", "spec.regions[0].adopt.sessionsTable.name", "stream KEYS_ONLY"),)
    conds = _conditions(_result(blocked=blocked), _live(SYNCED, **REAL))
    assert conds[STALLED].status is True and conds[STALLED].reason == "AdoptionBlocked"
    assert "Table/sessions" in conds[STALLED].message and "KEYS_ONLY" in conds[STALLED].message
    assert conds["Ready"].status is False


def test_adoption_drift_lists_the_settings_manage_would_change() -> None:
    conds = _conditions(_result(), _live(SYNCED, **REAL))
    drift = conds[ADOPTION_DRIFT]
    assert drift.status is True
    assert "VPC/vpc-a: enableDnsHostnames, tags" in drift.message
    assert conds[STALLED].status is False


def test_no_drift_and_no_condition_in_manage() -> None:
    same = {**REAL, "enableDnsHostnames": True, "tags": {"Name": "vpc-a", "CostCenter": "cc", "Extra": "x"}}
    assert _conditions(_result(), _live(SYNCED, **same))[ADOPTION_DRIFT].status is False
    assert ADOPTION_DRIFT not in _conditions(_result("Manage"), _live(SYNCED, **REAL))


def test_setting_differences_skip_references_and_unreported_fields() -> None:
    assert setting_differences({"vpcIdRef": {"name": "x"}, "cidrBlock": "10.0.0.0/16", "unknown": 1,
                                "port": 5432, "list": [{"a": 1}]},
                               {"cidrBlock": "10.0.0.0/16", "port": 5432.0, "list": [{"a": 2, "b": 3}]}) == ["list"]


def test_adopted_mrs_are_retained_on_deletion_unless_deletion_is_delete() -> None:
    def policies(mode: str, deletion: str) -> list[str]:
        return Adopted("f", "i", "i", mode, deletion).management_policies(seen=True)
    assert retained({"spec": {"managementPolicies": policies("Observe", "Orphan")}})
    assert retained({"spec": {"managementPolicies": policies("Manage", "Orphan")}})
    assert not retained({"spec": {"managementPolicies": policies("Manage", "Delete")}})


def test_manage_never_creates_what_was_not_seen() -> None:
    def policies(deletion: str) -> Callable[[bool], list[str]]:
        return lambda seen: Adopted("f", "i", "i", "Manage", deletion).management_policies(seen=seen)
    assert "Create" not in policies("Orphan")(False) and "Create" in policies("Orphan")(True)
    assert "Create" not in policies("Delete")(False) and policies("Delete")(True) == ["*"]


def test_the_orphaned_events_name_every_kept_resource() -> None:
    labels = [f"Subnet/subnet-private-{i}-prod-use1 (adopted, spec.regions[0].adopt.vpc.privateSubnetIds[{i}])"
              for i in range(30)]
    events = [e for e in deletion_events(DeletionProgress(done=False, tier=3, orphaned=labels))
              if e.reason == "Orphaned"]
    assert len(events) > 1 and all(len(e.message) <= MAX_EVENT_MESSAGE for e in events)
    assert all(any(label in e.message for e in events) for label in labels)

"""The operator's MR index: relists replace exactly one kind's entries (group included), owners are tracked, only
what a reconcile reads is kept, and events that change none of it wake no one."""

from __future__ import annotations

from typing import Any

from regional_operator.render.kinds import KINDS
from regional_operator.render.observed import OBSERVED_ATTRIBUTES
from regional_operator.render.outputs import OUTPUTS
from regional_operator.watch.mrwatch import MRIndex, watched_namespaces
from regional_operator.watch.record import live_spec


def uid(owner: str) -> str:
    """The UID of the RegionalDeployment called `owner` in these tests."""
    return f"uid-{owner}"


def controller_ref(owner: str, owner_uid: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment", "name": owner,
            "uid": owner_uid or uid(owner), "controller": True, "blockOwnerDeletion": True}


def mr(service: str, kind: str, name: str, owner: str | None = "payments", ns: str = "ns") -> dict[str, Any]:
    """An MR as we apply it: labelled and controlled by the RegionalDeployment `owner` (None: neither)."""
    labels = {"platform.regional.io/deployment": owner} if owner else {}
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels, "managedFields": [{"big": "x"}]}
    if owner:
        meta["ownerReferences"] = [controller_ref(owner)]
    return {"apiVersion": f"{service}.aws.m.upbound.io/v1beta1", "kind": kind, "metadata": meta,
            "spec": {}, "status": {}}


def test_relisting_one_service_kind_keeps_the_other_groups_service() -> None:
    index = MRIndex()
    index.upsert(mr("servicediscovery", "Service", "discovery-api"))
    touched = index.replace_kind(KINDS["ecs/Service"], "ns", [])  # the ECS list is empty: must not drop Cloud Map's
    assert touched == set()
    assert [o["metadata"]["name"] for o in index.owned("ns", "payments", uid("payments"))] == ["discovery-api"]
    touched = index.replace_kind(KINDS["servicediscovery/Service"], "ns", [])
    assert touched == {("ns", "payments")} and index.owned("ns", "payments", uid("payments")) == []


def test_upsert_remove_and_relabel_track_the_owner() -> None:
    index = MRIndex()
    assert index.upsert(mr("ec2", "VPC", "vpc-a")) == {("ns", "payments")}
    assert "managedFields" not in index.owned("ns", "payments", uid("payments"))[0]["metadata"]
    # relabelled to another deployment: both are woken (the old owner must see its MR go)
    assert index.upsert(mr("ec2", "VPC", "vpc-a", owner="other")) == {("ns", "other"), ("ns", "payments")}
    assert index.owned("ns", "payments", uid("payments")) == [] and len(index.owned("ns", "other", uid("other"))) == 1
    assert index.remove(mr("ec2", "VPC", "vpc-a", owner="other")) == ("ns", "other")
    assert len(index) == 0 and index.all() == []
    assert index.upsert(mr("ec2", "VPC", "vpc-b", owner=None)) == set()


def test_ownership_is_the_controller_reference_not_the_label() -> None:
    """Issue 13: labels can be written by anyone who may create MRs; only the controller reference (its UID)
    makes an MR ours."""
    index = MRIndex()
    unowned = mr("ec2", "VPC", "vpc-squat")  # our labels, no owner reference at all
    del unowned["metadata"]["ownerReferences"]
    assert index.upsert(unowned) == set() and len(index) == 0
    other_controller = mr("ec2", "VPC", "vpc-other")
    other_controller["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "payments",
                                                        "uid": uid("payments"), "controller": True}]
    assert index.upsert(other_controller) == set() and len(index) == 0
    not_controller = mr("ec2", "VPC", "vpc-ref")
    not_controller["metadata"]["ownerReferences"][0]["controller"] = False
    assert index.upsert(not_controller) == set() and len(index) == 0
    # labelled for "payments" but controlled by "other": it is other's, whatever the label says
    mislabelled = mr("ec2", "VPC", "vpc-b", owner="other")
    mislabelled["metadata"]["labels"]["platform.regional.io/deployment"] = "payments"
    assert index.upsert(mislabelled) == {("ns", "other")}
    assert index.owned("ns", "payments", uid("payments")) == []
    assert len(index.owned("ns", "other", uid("other"))) == 1


def test_a_stale_uid_is_not_handed_to_the_recreated_deployment() -> None:
    """A RegionalDeployment deleted and created again under the same name has a new UID: the MRs the old one
    controlled (garbage collection may not have removed them yet) are not the new one's."""
    index = MRIndex()
    old = mr("ec2", "VPC", "vpc-a")
    old["metadata"]["ownerReferences"] = [controller_ref("payments", "uid-old")]
    index.upsert(old)
    assert index.owned("ns", "payments", "uid-new") == []
    assert len(index.owned("ns", "payments", "uid-old")) == 1
    assert index.owned("ns", "payments", None) == [], "without the CR's UID nothing is assumed ours"
    # re-parented to the new UID (e.g. by an administrator): now it is the new deployment's, and it wakes it
    assert index.upsert(mr("ec2", "VPC", "vpc-a")) == {("ns", "payments")}
    assert len(index.owned("ns", "payments", uid("payments"))) == 1
    # losing its controller reference removes it from the deployment
    orphaned = mr("ec2", "VPC", "vpc-a")
    del orphaned["metadata"]["ownerReferences"]
    assert index.upsert(orphaned) == {("ns", "payments")}
    assert index.owned("ns", "payments", uid("payments")) == [] and len(index) == 0


def test_relist_is_scoped_to_its_namespace() -> None:
    index = MRIndex()
    index.upsert(mr("ec2", "VPC", "vpc-a", ns="a"))
    index.upsert(mr("ec2", "VPC", "vpc-b", ns="b"))
    index.replace_kind(KINDS["ec2/VPC"], "a", [])
    assert index.owned("a", "payments", uid("payments")) == []
    assert len(index.owned("b", "payments", uid("payments"))) == 1


def test_watched_namespaces_follow_kopf_arguments() -> None:
    assert watched_namespaces(["kopf", "run", "--all-namespaces"]) is None
    assert watched_namespaces(["kopf", "run", "--namespace", "a", "-n", "b", "--namespace=c"]) == ["a", "b", "c"]


def live_vpc(**changes: Any) -> dict[str, Any]:
    """A VPC as the API server returns it once the provider has reported it."""
    obj = mr("ec2", "VPC", "vpc-a")
    obj["metadata"].update(resourceVersion="7", generation=2, uid="u-1", finalizers=["f"],
                           annotations={"platform.regional.io/applied-hash": "h1", "crossplane.io/external-name": "x"})
    obj["spec"] = {"forProvider": {"cidrBlock": "10.0.0.0/16", "tags": {"a": "b"}}, "managementPolicies": ["*"]}
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                                     "observedGeneration": 2, "lastTransitionTime": "2026-11-25T00:00:00Z"}],
                     "atProvider": {"id": "vpc-1", "arn": "arn:aws:ec2:::vpc/vpc-1", "tags": {"a": "b"}, "owner": "1",
                                    "cidrBlockAssociations": [{"id": "c"}]}}
    for path, value in changes.items():
        section, _, key = path.partition("__")
        obj[section][key] = value
    return obj


def test_the_index_keeps_what_a_reconcile_reads_and_drops_the_rest() -> None:
    index = MRIndex()
    index.upsert(live_vpc())
    kept = index.owned("ns", "payments", uid("payments"))[0]
    assert kept["metadata"] == {"name": "vpc-a", "namespace": "ns", "labels": {"platform.regional.io/deployment":
                                "payments"}, "annotations": {"platform.regional.io/applied-hash": "h1"},
                                "generation": 2}, "resourceVersion is not kept: nothing reads it"
    assert kept["status"]["conditions"] == [{"type": "Ready", "status": "True", "reason": "Available",
                                             "observedGeneration": 2}]
    assert kept["status"]["atProvider"] == {"id": "vpc-1", "arn": "arn:aws:ec2:::vpc/vpc-1"}  # strings we read
    assert kept["spec"] == {"managementPolicies": ["*"]}
    assert live_spec(kept) == live_vpc()["spec"], "the full spec is kept (compressed) for drift detection"


def test_events_that_change_nothing_a_reconcile_reads_wake_no_one() -> None:
    index = MRIndex()
    owner = ("ns", "payments")
    assert index.upsert(live_vpc()) == {owner}
    provider_bookkeeping = live_vpc()
    provider_bookkeeping["metadata"].update(resourceVersion="8", finalizers=["f", "g"])
    assert index.upsert(provider_bookkeeping) == set()
    stored = index.owned(*owner, uid(owner[1]))[0]
    assert stored is not None and "resourceVersion" not in stored["metadata"]
    new_generation = live_vpc()
    new_generation["metadata"].update(resourceVersion="9", generation=3)
    assert index.upsert(new_generation) == {owner}
    not_ready = live_vpc(status__conditions=[{"type": "Ready", "status": "False", "reason": "Unavailable"}])
    assert index.upsert(not_ready) == {owner}
    deleting = live_vpc()
    deleting["metadata"]["deletionTimestamp"] = "2026-11-25T00:00:01Z"
    assert index.upsert(deleting) == {owner}


def test_every_attribute_the_status_outputs_read_is_kept() -> None:
    assert {attribute for *_, attribute in OUTPUTS} <= OBSERVED_ATTRIBUTES


def test_without_a_generation_every_event_wakes_and_nothing_stays_verified() -> None:
    index = MRIndex()
    first = live_vpc()
    del first["metadata"]["generation"]
    assert index.upsert(first) == {("ns", "payments")}
    [entry] = index.owned("ns", "payments", uid("payments"))
    entry["verifiedHash"] = "h1"  # as apply.needs_apply marks it
    again = live_vpc()
    del again["metadata"]["generation"]
    again["spec"]["forProvider"]["cidrBlock"] = "10.99.0.0/16"
    assert index.upsert(again) == {("ns", "payments")}
    [entry] = index.owned("ns", "payments", uid("payments"))
    assert "verifiedHash" not in entry and live_spec(entry)["forProvider"]["cidrBlock"] == "10.99.0.0/16"


def test_mrs_no_deployment_controls_are_remembered_by_identity_only() -> None:
    """The watch is unselected (issue 15): of an MR we do not control only who controls it is kept, so a first
    apply knows without a GET whether it would land on someone else's MR."""
    index = MRIndex()
    squat = mr("ec2", "VPC", "vpc-a", owner=None)
    assert index.upsert(squat) == set() and len(index) == 0 and index.foreign_count() == 1
    ours = mr("ec2", "VPC", "vpc-a")
    assert index.controlled_elsewhere(ours, uid("payments")) == "no controller"
    assert index.controlled_elsewhere(mr("ec2", "VPC", "vpc-b"), uid("payments")) is None, "absent: ours to create"
    assert index.controlled_elsewhere(mr("ec2", "VPC", "vpc-a", ns="other"), uid("payments")) is None
    assert index.controlled_elsewhere(mr("ec2", "Subnet", "vpc-a"), uid("payments")) is None, "another kind"
    # adopted by the deployment (re-parented): now ours, and no longer foreign
    assert index.upsert(ours) == {("ns", "payments")}
    assert index.foreign_count() == 0 and index.controlled_elsewhere(ours, uid("payments")) is None
    assert index.controlled_elsewhere(ours, "uid-successor") == "RegionalDeployment/payments (uid uid-payments)"
    # orphaned again, then deleted: forgotten
    index.upsert(squat)
    assert index.foreign_count() == 1 and len(index) == 0
    index.remove(squat)
    assert index.foreign_count() == 0 and index.controlled_elsewhere(ours, uid("payments")) is None


def test_a_relist_forgets_foreign_mrs_of_its_kind_and_namespace_only() -> None:
    index = MRIndex()
    index.upsert(mr("ec2", "VPC", "vpc-a", owner=None))
    index.upsert(mr("ec2", "VPC", "vpc-a", owner=None, ns="b"))
    index.upsert(mr("ec2", "Subnet", "subnet-a", owner=None))
    kept = mr("ec2", "VPC", "vpc-c", owner=None)
    index.replace_kind(KINDS["ec2/VPC"], "ns", [kept])
    assert index.foreign_count() == 3
    assert index.controlled_elsewhere(mr("ec2", "VPC", "vpc-a"), uid("payments")) is None, "gone from the list"
    assert index.controlled_elsewhere(mr("ec2", "VPC", "vpc-a", ns="b"), uid("payments")) == "no controller"
    assert index.controlled_elsewhere(mr("ec2", "Subnet", "subnet-a"), uid("payments")) == "no controller"
    assert index.controlled_elsewhere(mr("ec2", "VPC", "vpc-c"), uid("payments")) == "no controller"

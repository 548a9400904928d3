"""The operator's MR index: relists replace exactly one kind's entries (group included), owners are tracked, only
what a reconcile reads is kept, and events that change none of it wake no one."""

from __future__ import annotations

from typing import Any

from regional_operator.render.kinds import KINDS
from regional_operator.render.observed import OBSERVED_ATTRIBUTES
from regional_operator.render.outputs import OUTPUTS
from regional_operator.watch.mrwatch import MRIndex, watched_namespaces
from regional_operator.watch.record import live_spec


def mr(service: str, kind: str, name: str, owner: str | None = "payments", ns: str = "ns") -> dict[str, Any]:
    labels = {"platform.regional.io/deployment": owner} if owner else {}
    return {"apiVersion": f"{service}.aws.m.upbound.io/v1beta1", "kind": kind,
            "metadata": {"name": name, "namespace": ns, "labels": labels, "managedFields": [{"big": "x"}]},
            "spec": {}, "status": {}}


def test_relisting_one_service_kind_keeps_the_other_groups_service() -> None:
    index = MRIndex()
    index.upsert(mr("servicediscovery", "Service", "discovery-api"))
    touched = index.replace_kind(KINDS["ecs/Service"], "ns", [])  # the ECS list is empty: must not drop Cloud Map's
    assert touched == set()
    assert [o["metadata"]["name"] for o in index.owned("ns", "payments")] == ["discovery-api"]
    touched = index.replace_kind(KINDS["servicediscovery/Service"], "ns", [])
    assert touched == {("ns", "payments")} and index.owned("ns", "payments") == []


def test_upsert_remove_and_relabel_track_the_owner() -> None:
    index = MRIndex()
    assert index.upsert(mr("ec2", "VPC", "vpc-a")) == {("ns", "payments")}
    assert "managedFields" not in index.owned("ns", "payments")[0]["metadata"]
    # relabelled to another deployment: both are woken (the old owner must see its MR go)
    assert index.upsert(mr("ec2", "VPC", "vpc-a", owner="other")) == {("ns", "other"), ("ns", "payments")}
    assert index.owned("ns", "payments") == [] and len(index.owned("ns", "other")) == 1
    assert index.remove(mr("ec2", "VPC", "vpc-a", owner="other")) == ("ns", "other")
    assert len(index) == 0 and index.all() == []
    assert index.upsert(mr("ec2", "VPC", "vpc-b", owner=None)) == set()


def test_relist_is_scoped_to_its_namespace() -> None:
    index = MRIndex()
    index.upsert(mr("ec2", "VPC", "vpc-a", ns="a"))
    index.upsert(mr("ec2", "VPC", "vpc-b", ns="b"))
    index.replace_kind(KINDS["ec2/VPC"], "a", [])
    assert index.owned("a", "payments") == [] and len(index.owned("b", "payments")) == 1


def test_watched_namespaces_follow_kopf_arguments() -> None:
    assert watched_namespaces(["kopf", "run", "--all-namespaces"]) is None
    assert watched_namespaces(["kopf", "run", "--namespace", "a", "-n", "b", "--namespace=c"]) == ["a", "b", "c"]


def live_vpc(**changes: Any) -> dict[str, Any]:
    """A VPC as the API server returns it once the provider has reported it."""
    obj = mr("ec2", "VPC", "vpc-a")
    obj["metadata"].update(resourceVersion="7", generation=2, uid="u-1", finalizers=["f"],
                           annotations={"platform.regional.io/applied-hash": "h1", "crossplane.io/external-name": "x"},
                           ownerReferences=[{"kind": "RegionalDeployment", "name": "payments"}])
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
    kept = index.owned("ns", "payments")[0]
    assert kept["metadata"] == {"name": "vpc-a", "namespace": "ns", "labels": {"platform.regional.io/deployment":
                                "payments"}, "annotations": {"platform.regional.io/applied-hash": "h1"},
                                "generation": 2, "resourceVersion": "7"}
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
    assert index.owned(*owner)[0]["metadata"]["resourceVersion"] == "8", "stored anyway (apply's cache key)"
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
    [entry] = index.owned("ns", "payments")
    entry["verifiedHash"] = "h1"  # as apply.needs_apply marks it
    again = live_vpc()
    del again["metadata"]["generation"]
    again["spec"]["forProvider"]["cidrBlock"] = "10.99.0.0/16"
    assert index.upsert(again) == {("ns", "payments")}
    [entry] = index.owned("ns", "payments")
    assert "verifiedHash" not in entry and live_spec(entry)["forProvider"]["cidrBlock"] == "10.99.0.0/16"

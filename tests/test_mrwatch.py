"""The operator's MR index: relists replace exactly one kind's entries (group included), owners are tracked."""

from __future__ import annotations

from typing import Any

from regional_operator.mrwatch import MRIndex, watched_namespaces
from regional_operator.render.kinds import KINDS


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
    assert index.upsert(mr("ec2", "VPC", "vpc-a")) == ("ns", "payments")
    assert "managedFields" not in index.owned("ns", "payments")[0]["metadata"]
    assert index.upsert(mr("ec2", "VPC", "vpc-a", owner="other")) == ("ns", "other")
    assert index.owned("ns", "payments") == [] and len(index.owned("ns", "other")) == 1
    assert index.remove(mr("ec2", "VPC", "vpc-a", owner="other")) == ("ns", "other")
    assert len(index) == 0 and index.all() == []
    assert index.upsert(mr("ec2", "VPC", "vpc-b", owner=None)) is None


def test_relist_is_scoped_to_its_namespace() -> None:
    index = MRIndex()
    index.upsert(mr("ec2", "VPC", "vpc-a", ns="a"))
    index.upsert(mr("ec2", "VPC", "vpc-b", ns="b"))
    index.replace_kind(KINDS["ec2/VPC"], "a", [])
    assert index.owned("a", "payments") == [] and len(index.owned("b", "payments")) == 1


def test_watched_namespaces_follow_kopf_arguments() -> None:
    assert watched_namespaces(["kopf", "run", "--all-namespaces"]) is None
    assert watched_namespaces(["kopf", "run", "--namespace", "a", "-n", "b", "--namespace=c"]) == ["a", "b", "c"]

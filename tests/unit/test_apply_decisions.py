"""When the operator applies an MR and when it leaves it alone: decided from the watch-fed index, no requests."""

from __future__ import annotations

import copy
from typing import Any

from regional_operator.reconcile.apply import needs_apply, with_ownership
from regional_operator.watch.mrwatch import MRIndex
from regional_operator.watch.record import SPEC_BLOB, VERIFIED, slim

OWNER = {"metadata": {"name": "payments", "namespace": "ns", "uid": "u-1",
                      "labels": {"team": "payments"}}}


def desired() -> dict[str, Any]:
    return with_ownership({
        "apiVersion": "ec2.aws.m.upbound.io/v1beta1", "kind": "VPC",
        "metadata": {"name": "vpc-prod-use1", "namespace": "ns",
                     "labels": {"platform.regional.io/deployment": "payments"}},
        "spec": {"forProvider": {"cidrBlock": "10.10.0.0/16", "region": "us-east-1", "tags": {"Environment": "prod"}},
                 "managementPolicies": ["*"]},
    }, OWNER)


def live_from(obj: dict[str, Any], *, generation: int = 1, rv: str = "10", **for_provider: Any) -> dict[str, Any]:
    """The MR as the API server returns it: our fields, the provider's late-initialized ones, status."""
    live = copy.deepcopy(obj)
    live["metadata"].update(generation=generation, resourceVersion=rv, uid="mr-1", managedFields=[{"m": "x"}])
    live["spec"]["forProvider"].update(instanceTenancy="default", **for_provider)
    live["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                                      "observedGeneration": generation}], "atProvider": {"id": "vpc-1"}}
    return live


def test_missing_or_changed_by_us_means_apply() -> None:
    want = desired()
    assert needs_apply(want, None)
    edited = copy.deepcopy(want)
    edited["spec"]["forProvider"]["cidrBlock"] = "10.20.0.0/16"
    edited = with_ownership(edited, OWNER)  # a new render: a new applied-hash
    assert needs_apply(edited, slim(live_from(want)))


def test_late_initialized_fields_are_not_drift_and_the_result_is_remembered() -> None:
    want = desired()
    live = slim(live_from(want))
    assert SPEC_BLOB in live
    assert not needs_apply(want, live)
    assert live[VERIFIED] == want["metadata"]["annotations"]["platform.regional.io/applied-hash"]
    assert SPEC_BLOB not in live, "a verified MR keeps no copy of its spec"
    assert not needs_apply(want, live), "verified: not compared again"


def test_someone_elses_edit_of_our_field_is_drift() -> None:
    want = desired()
    drifted = live_from(want, generation=2, cidrBlock="10.99.0.0/16")
    assert needs_apply(want, slim(drifted))
    relabelled = live_from(want)
    relabelled["metadata"]["labels"]["platform.regional.io/deployment"] = "other"
    assert needs_apply(want, slim(relabelled))


def test_a_deleting_mr_is_left_to_finish() -> None:
    want = desired()
    deleting = live_from(want)
    deleting["metadata"]["deletionTimestamp"] = "2026-11-25T00:00:00Z"
    assert not needs_apply(want, slim(deleting))


def test_verification_survives_status_writes_but_not_a_new_generation() -> None:
    want = desired()
    index = MRIndex()
    index.upsert(live_from(want, rv="10"))
    [entry] = index.owned("ns", "payments")
    assert not needs_apply(want, entry)
    index.upsert(live_from(want, rv="11"))  # the provider rewrote status: same generation
    [entry] = index.owned("ns", "payments")
    assert SPEC_BLOB not in entry and not needs_apply(want, entry)
    index.upsert(live_from(want, generation=2, rv="12", cidrBlock="10.99.0.0/16"))  # someone edited the spec
    [entry] = index.owned("ns", "payments")
    assert VERIFIED not in entry and SPEC_BLOB in entry
    assert needs_apply(want, entry)


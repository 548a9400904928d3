"""When the operator applies an MR and when it leaves it alone: decided from the watch-fed index, no requests."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from regional_operator.identity import key_of
from regional_operator.reconcile.apply import apply_all, needs_apply, with_ownership
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
    [entry] = index.owned("ns", "payments", "u-1")
    assert not needs_apply(want, entry)
    index.upsert(live_from(want, rv="11"))  # the provider rewrote status: same generation
    [entry] = index.owned("ns", "payments", "u-1")
    assert SPEC_BLOB not in entry and not needs_apply(want, entry)
    index.upsert(live_from(want, generation=2, rv="12", cidrBlock="10.99.0.0/16"))  # someone edited the spec
    [entry] = index.owned("ns", "payments", "u-1")
    assert VERIFIED not in entry and SPEC_BLOB in entry
    assert needs_apply(want, entry)



# --- never over someone else's MR (issue 13) ----------------------------------------------------------------------

class FakeClient:
    """Records every apply; any read is a failure (the index answers who controls an MR, not a GET)."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    async def get(self, *_args: Any) -> dict[str, Any] | None:
        raise AssertionError("apply_all must not read an MR: the watch index says who controls it")

    async def apply(self, _ref: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(obj["metadata"]["name"])
        return live_from(obj)


def _controlled_by(obj: dict[str, Any], uid: str | None, kind: str = "RegionalDeployment") -> dict[str, Any]:
    """`obj` as the server holds it with controller `kind`/first of `uid` (None: no owner reference at all,
    though it keeps our labels)."""
    other = live_from(obj)
    if uid is None:
        other["metadata"].pop("ownerReferences")
    else:
        other["metadata"]["ownerReferences"] = [{"apiVersion": "platform.regional.io/v1alpha1", "kind": kind,
                                                 "name": "first", "uid": uid, "controller": True}]
    return other


def _index_holding(existing: dict[str, Any] | None) -> MRIndex:
    index = MRIndex()
    if existing is not None:
        index.upsert(existing)
    return index


@pytest.mark.parametrize(("existing_uid", "controller"), [
    ("absent", None),
    ("u-1", None),  # ours, though the deployment's `live` has not caught up yet
    ("u-2", "RegionalDeployment/first (uid u-2)"),  # another deployment, or a deleted one's stale UID
    (None, "no controller"),  # our labels alone do not make it ours
])
def test_the_index_says_who_controls_an_mr_we_would_create(existing_uid: str | None,
                                                           controller: str | None) -> None:
    want = desired()
    existing = None if existing_uid == "absent" else _controlled_by(want, existing_uid)
    assert _index_holding(existing).controlled_elsewhere(want, "u-1") == controller


def test_a_controller_of_another_kind_with_our_uid_is_not_us() -> None:
    want = desired()
    squatter = _controlled_by(want, "u-1", kind="ConfigMap")
    del squatter["metadata"]["labels"]  # unlabelled: only the unselected watch sees it
    assert _index_holding(squatter).controlled_elsewhere(want, "u-1") == "ConfigMap/first (uid u-1)"


@pytest.mark.parametrize(("existing_uid", "applied"), [("absent", True), ("u-1", True), ("u-2", False),
                                                       (None, False)])
def test_an_mr_missing_from_live_is_applied_only_when_no_one_else_controls_it(existing_uid: str | None,
                                                                             applied: bool) -> None:
    want = desired()
    index = _index_holding(None if existing_uid == "absent" else _controlled_by(want, existing_uid))
    client = FakeClient()
    report = asyncio.run(apply_all(client, [want], {}, concurrency=2,  # type: ignore[arg-type]
                                   controlled_elsewhere=index.controlled_elsewhere))
    assert (client.applied == ["vpc-prod-use1"]) is applied
    if applied:
        assert report.applied == [("VPC", "vpc-prod-use1")] and report.conflicts == {}
    else:
        assert report.applied == [] and set(report.conflicts) == {("VPC", "vpc-prod-use1")}
        assert ("no controller" if existing_uid is None else "uid u-2") in report.conflicts[("VPC", "vpc-prod-use1")]


def test_an_mr_in_live_is_applied_without_asking_who_controls_it() -> None:
    want = desired()
    edited = copy.deepcopy(want)
    edited["spec"]["forProvider"]["cidrBlock"] = "10.20.0.0/16"
    edited = with_ownership(edited, OWNER)
    client = FakeClient()
    asked: list[str] = []

    def lookup(obj: Any, _uid: str) -> str | None:
        asked.append(obj["metadata"]["name"])
        return "someone"

    report = asyncio.run(apply_all(client, [edited], {key_of(want): slim(live_from(want))},  # type: ignore[arg-type]
                                   concurrency=2, controlled_elsewhere=lookup))
    assert asked == [] and client.applied == ["vpc-prod-use1"] and report.conflicts == {}

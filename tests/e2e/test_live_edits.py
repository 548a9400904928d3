"""End-to-end, issue 12: on the real API server with the operator and the provider simulator, a failover and a
region-list edit change exactly the MRs docs/aws-semantics.md says, and every other MR keeps its uid and its
resourceVersion (not even a no-op write)."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Env, load_example

pytestmark = pytest.mark.cluster

Snapshot = dict[tuple[str, str], tuple[str, str]]  # (kind, name) -> (uid, resourceVersion)
FAILOVER = {"fromRegion": "us-east-1", "toRegion": "us-east-2"}


def snapshot(env: Env, name: str) -> tuple[Snapshot, dict[tuple[str, str], dict[str, Any]]]:
    mrs = {(m["kind"], m["metadata"]["name"]): m for m in env.mrs(name)}
    return {k: (m["metadata"]["uid"], m["metadata"]["resourceVersion"]) for k, m in mrs.items()}, mrs


def converged(env: Env, name: str, timeout: float = 240) -> None:
    """Ready=True for the CR's current generation (not a Ready left over from before the edit)."""
    def check() -> bool:
        obj = env.get(name) or {}
        generation = obj.get("metadata", {}).get("generation")
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), {})
        return ready.get("status") == "True" and ready.get("observedGeneration") == generation
    env.wait_for(f"{name} Ready at its current generation", check, timeout)


def phase(env: Env, name: str) -> str | None:
    return ((env.get(name) or {}).get("status") or {}).get("failover", {}).get("phase")


def region_of(mr: dict[str, Any]) -> str:
    return str(mr["metadata"]["labels"]["platform.regional.io/region"])


def test_failover_promotes_moves_payments_and_stops_replication_touching_nothing_else(env: Env) -> None:
    env.start_simulator()
    env.start_operator()
    cr = load_example("two-region.yaml")
    name = cr["metadata"]["name"]
    env.apply(cr)
    converged(env, name)
    before, before_mrs = snapshot(env, name)
    replica = next(m for m in before_mrs.values() if m["kind"] == "Instance" and region_of(m) == "us-east-2")
    assert replica["spec"]["forProvider"]["replicateSourceDb"]

    # step 1: declare the failover
    step1_cr = copy.deepcopy(cr)
    step1_cr["spec"]["failover"] = dict(FAILOVER)
    env.apply(step1_cr)
    env.wait_for("failover phase Promoted", lambda: phase(env, name) == "Promoted", timeout=180)
    converged(env, name)
    step1, step1_mrs = snapshot(env, name)
    promoted = step1_mrs[("Instance", replica["metadata"]["name"])]
    assert "replicateSourceDb" not in promoted["spec"]["forProvider"]
    assert not (promoted.get("status") or {}).get("atProvider", {}).get("replicateSourceDb")
    esm = {region_of(m): m["spec"]["forProvider"]["enabled"] for m in step1_mrs.values()
           if m["kind"] == "EventSourceMapping"}
    assert esm == {"us-east-1": False, "us-east-2": True}

    expected_changed = {("Instance", replica["metadata"]["name"])}
    expected_changed |= {k for k in before if k[0] == "EventSourceMapping" or (k[0] == "Parameter"
                                                                               and "active-region" in k[1])}
    # the promoted region's uploads bucket is no longer a replica: its policy stops reserving writes to replication
    promoted_bucket = {k for k, m in before_mrs.items() if m["kind"] == "BucketPolicy" and region_of(m) == "us-east-2"
                       and k[1].startswith("uploads-")}
    assert len(promoted_bucket) == 1
    expected_changed |= promoted_bucket
    expected_gone = {k for k, m in before_mrs.items() if m["kind"] == "BucketReplicationConfiguration"
                     or (m["kind"] == "RolePolicy" and "replication" in k[1])}
    assert len(expected_gone) == 2
    assert set(step1) == set(before) - expected_gone, "only the replication into the new primary goes"
    changed = {k for k in step1 if step1[k] != before[k]}
    assert changed == expected_changed
    assert all(step1[k][0] == before[k][0] for k in step1), "an MR was recreated instead of updated"

    status = (env.get(name) or {})["status"]
    assert status["activePaymentsRegion"] == "us-east-2"
    old_db = next(m for m in before_mrs.values() if m["kind"] == "Instance" and region_of(m) == "us-east-1")
    assert status["failover"]["oldDatabase"] == old_db["metadata"]["name"]
    assert old_db["metadata"]["name"] in status["failover"]["message"]
    assert "replay" in status["failover"]["message"] and status["failover"]["requestedAt"]
    assert env.condition(name, "FailedOver")["status"] == "True"

    # step 2: move the primary; nothing is written
    step2_cr = copy.deepcopy(step1_cr)
    for region in step2_cr["spec"]["regions"]:
        region["primary"] = region["name"] == "us-east-2"
    env.apply(step2_cr)
    env.wait_for("failover phase Completed", lambda: phase(env, name) == "Completed", timeout=120)
    converged(env, name)
    step2, _ = snapshot(env, name)
    assert step2 == step1, "moving the primary after the promotion must not touch any MR"


def test_removing_and_adding_back_a_middle_region_touches_only_it_and_the_links(env: Env) -> None:
    env.start_simulator()
    env.start_operator()
    cr = load_example("three-region.yaml")
    name = cr["metadata"]["name"]
    env.apply(cr)
    converged(env, name, timeout=300)
    before, before_mrs = snapshot(env, name)
    links = {k for k, m in before_mrs.items() if m["kind"] in ("Table", "BucketReplicationConfiguration")
             or (m["kind"] == "RolePolicy" and "replication" in k[1])}
    assert len(links) == 4

    smaller = copy.deepcopy(cr)
    smaller["spec"]["regions"] = [r for r in cr["spec"]["regions"] if r["name"] != "us-east-2"]
    env.apply(smaller)
    env.wait_for("us-east-2 MRs gone", lambda: not any(region_of(m) == "us-east-2" for m in env.mrs(name)),
                 timeout=240)
    converged(env, name)
    after, _ = snapshot(env, name)
    assert not set(after) - set(before), "removing a region created MRs"
    for key in set(after) - links:
        assert after[key] == before[key], f"{key} changed although its region was not touched"
    assert all(after[k][0] == before[k][0] for k in after.keys() & links)

    env.apply(cr)  # add it back, in the middle of the list where it was
    converged(env, name, timeout=300)
    again, _ = snapshot(env, name)
    assert set(again) == set(before)
    for key in set(after) - links:
        assert again[key] == after[key], f"{key} changed when us-east-2 was added back"


def test_a_defaults_change_that_would_move_live_subnets_is_stalled_and_touches_nothing(
        env: Env, tmp_path: Path) -> None:
    """The region defaults (a ConfigMap, here the file it is mounted as) change under a live estate: the operator
    must not render us-east-2's subnets into another zone. Stalled names the field; no MR is written."""
    packaged = resources.files("regional_operator").joinpath("data/region-defaults.yaml").read_text("utf-8")
    defaults_file = tmp_path / "region-defaults.yaml"
    defaults_file.write_text(packaged, encoding="utf-8")
    env.start_simulator()
    env.start_operator(REGIONAL_OPERATOR_DEFAULTS=str(defaults_file))
    cr = load_example("two-region.yaml")
    name = cr["metadata"]["name"]
    env.apply(cr)
    converged(env, name)
    before, _ = snapshot(env, name)

    raw = yaml.safe_load(packaged)
    raw["version"] = "moved-zones"
    raw["regions"]["us-east-2"]["availabilityZones"] = ["us-east-2a", "us-east-2b", "us-east-2d"]
    defaults_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    stalled = env.wait_condition(name, "Stalled", "True", timeout=120)
    assert "spec.regions[1].availabilityZones" in stalled["message"] and "us-east-2d" in stalled["message"]
    after, _ = snapshot(env, name)
    assert after == before, "a defaults change that AWS cannot apply in place touched MRs"

    # pinning the live zones in the CR is the documented way out: the estate converges again, still untouched
    pinned = copy.deepcopy(cr)
    next(r for r in pinned["spec"]["regions"] if r["name"] == "us-east-2")["availabilityZones"] = [
        "us-east-2a", "us-east-2b", "us-east-2c"]
    env.apply(pinned)
    env.wait_condition(name, "Stalled", "False", timeout=120)
    converged(env, name)
    assert snapshot(env, name)[0] == before

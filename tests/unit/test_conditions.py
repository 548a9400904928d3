"""Conditions by type: set/get, the kstatus triple, and writes that change nothing but a timestamp do not happen."""

from __future__ import annotations

from regional_operator.reconcile.conditions import (
    CONFLICT,
    MAX_LISTED,
    MAX_MESSAGE,
    Condition,
    Conditions,
    conflict_message,
    kstatus,
    merge_conditions,
    stuck,
)

T0, T1 = "2026-11-25T00:00:00Z", "2026-11-25T01:00:00Z"


def test_set_replaces_a_type_where_it_stands_and_appends_new_types() -> None:
    conds = Conditions([Condition("Ready", False, "NotReady"), Condition("Stalled", False, "NoErrors")])
    conds.set(Condition("Ready", True, "AllResourcesReady"), Condition("PeeringReady", True, "PeeringActive"))
    assert [(c.type, c.status) for c in conds] == [("Ready", True), ("Stalled", False), ("PeeringReady", True)]
    assert conds.get("Ready") == Condition("Ready", True, "AllResourcesReady")
    assert conds.get("Missing") is None
    assert conds.is_true("Ready") and not conds.is_true("Stalled") and not conds.is_true("Missing")
    assert len(conds) == 3


def test_unknown_is_neither_true_nor_false() -> None:
    conds = Conditions([Condition("RegionReady.us-east-1", None, "Pending")])
    assert not conds.is_true("RegionReady.us-east-1")
    assert conds.get("RegionReady.us-east-1").status_text == "Unknown"  # type: ignore[union-attr]


def test_keep_others_puts_the_judged_types_first_and_keeps_the_rest_as_stored() -> None:
    stored = [{"type": "Ready", "status": "True", "reason": "AllResourcesReady", "message": "9/9"},
              {"type": "PeeringReady", "status": "True", "reason": "PeeringActive", "message": "peered"},
              {"type": "RegionReady.us-east-1", "status": "Unknown", "reason": "Pending"}]
    out = stuck("InvalidSpec", "spec.x: bad", "spec.x: bad").keep_others(stored)
    assert [c.type for c in out] == ["Ready", "Reconciling", "Stalled", "PeeringReady", "RegionReady.us-east-1"]
    assert out.get("Ready") == Condition("Ready", False, "InvalidSpec", "spec.x: bad")
    assert out.get("PeeringReady") == Condition("PeeringReady", True, "PeeringActive", "peered")
    assert out.get("RegionReady.us-east-1") == Condition("RegionReady.us-east-1", None, "Pending", "")


def test_kstatus_derives_reconciling_and_stalled_from_ready() -> None:
    waiting = kstatus(Condition("Ready", False, "NotReady", "VPC/x: not created yet"), "3/9 managed resources ready")
    assert list(waiting)[1:] == [Condition("Reconciling", True, "Progressing", "3/9 managed resources ready"),
                                 Condition("Stalled", False, "NoErrors")]
    done = kstatus(Condition("Ready", True, "AllResourcesReady", "9/9"), "9/9 managed resources ready")
    assert list(done)[1:] == [Condition("Reconciling", False, "Converged", ""), Condition("Stalled", False, "NoErrors")]


def test_stuck_is_not_ready_not_reconciling_and_stalled_for_one_reason() -> None:
    conds = stuck("ApplyFailed", "VPC/x: refused", "1 MRs refused by the API server: VPC/x: refused")
    assert [(c.type, c.status, c.reason) for c in conds] == [
        ("Ready", False, "ApplyFailed"), ("Reconciling", False, "ApplyFailed"), ("Stalled", True, "ApplyFailed")]


def test_merging_the_same_judgement_again_is_byte_identical() -> None:
    wanted = [Condition("Ready", False, "NotReady", "3/9"), Condition("Stalled", False, "NoErrors")]
    first = merge_conditions([], wanted, 2, timestamp=T0)
    assert merge_conditions(first, wanted, 2, timestamp=T1) == first


def test_transition_time_moves_only_with_the_status() -> None:
    first = merge_conditions([], [Condition("Ready", False, "NotReady", "3/9")], 1, timestamp=T0)
    reworded = merge_conditions(first, [Condition("Ready", False, "Pending", "5/9")], 2, timestamp=T1)
    assert reworded[0]["lastTransitionTime"] == T0
    assert (reworded[0]["reason"], reworded[0]["message"], reworded[0]["observedGeneration"]) == ("Pending", "5/9", 2)
    flipped = merge_conditions(reworded, [Condition("Ready", True, "AllResourcesReady")], 2, timestamp=T1)
    assert flipped[0]["lastTransitionTime"] == T1


def test_a_stored_condition_without_a_transition_time_gets_one() -> None:
    stored = [{"type": "Ready", "status": "False", "reason": "NotReady"}]  # e.g. written by hand
    [out] = merge_conditions(stored, [Condition("Ready", False, "NotReady")], 1, timestamp=T1)
    assert out["lastTransitionTime"] == T1


def test_order_follows_the_wanted_conditions_and_messages_are_capped() -> None:
    stored = merge_conditions([], [Condition("B", True, "r"), Condition("A", True, "r")], 1, timestamp=T0)
    out = merge_conditions(stored, [Condition("A", True, "r", "x" * (MAX_MESSAGE + 5)), Condition("B", True, "r")], 1,
                           timestamp=T1)
    assert [c["type"] for c in out] == ["A", "B"]
    assert len(out[0]["message"]) == MAX_MESSAGE


def test_from_api_reads_the_stored_form() -> None:
    stored = {"type": "Synced", "status": "False", "reason": "ReconcileError", "message": "boom",
              "lastTransitionTime": T0, "observedGeneration": 3}
    assert Condition.from_api(stored) == Condition("Synced", False, "ReconcileError", "boom")
    assert Conditions.from_api([stored, {**stored, "status": "Unknown"}]).get("Synced") == Condition(
        "Synced", None, "ReconcileError", "boom")


def test_a_conflict_names_each_mr_and_its_controller_and_cuts_long_lists() -> None:
    conflicts = {("VPC", f"vpc-{i}"): "RegionalDeployment/first (uid u-1)" for i in range(MAX_LISTED + 2)}
    conflicts[("Key", "kms-a")] = "no controller"
    message = conflict_message(conflicts)
    assert message.startswith(f"{MAX_LISTED + 3} managed resources exist under another controller")
    assert "Key/kms-a is controlled by no controller" in message
    assert "VPC/vpc-0 is controlled by RegionalDeployment/first (uid u-1)" in message
    assert "and 3 more" in message
    ready = next(c for c in stuck(CONFLICT, message, message) if c.type == "Ready")
    assert (ready.status, ready.reason) == (False, "Conflict")

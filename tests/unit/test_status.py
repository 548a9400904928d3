"""Status assessment without a cluster: each desired MR judged against its live copy, problems grouped the ways
the conditions need, pending items placed by their tags, outputs read where the render result says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from regional_operator.defaults import load_defaults
from regional_operator.reconcile.status import assess, conditions_for, outputs_for
from regional_operator.render import RenderResult, render
from regional_operator.render.observed import Observed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "two-region.yaml"


def rendered() -> RenderResult:
    return render(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), load_defaults())


def live_ready(mr: dict[str, Any], generation: int = 1, **at_provider: str) -> dict[str, Any]:
    conds = [{"type": t, "status": "True", "reason": "Available", "observedGeneration": generation}
             for t in ("Synced", "Ready")]
    return {**mr, "metadata": {**mr["metadata"], "generation": generation},
            "status": {"conditions": conds, "atProvider": at_provider}}


def key(mr: dict[str, Any]) -> tuple[str, str]:
    return mr["kind"], mr["metadata"]["name"]


def test_each_desired_mr_is_ready_missing_failing_or_stale() -> None:
    desired = list(rendered().resources)
    vpc, bucket, key_mr, table = (next(m for m in desired if m["kind"] == k) for k in ("VPC", "Bucket", "Key",
                                                                                     "Table"))
    live = {key(m): live_ready(m) for m in desired if m not in (vpc, table)}
    live[key(bucket)]["status"]["conditions"][0] = {"type": "Synced", "status": "False", "reason": "ReconcileError",
                                                    "message": "AccessDenied"}
    live[key(key_mr)]["metadata"]["generation"] = 2  # applied since: its conditions speak for generation 1
    a = assess(desired, live, {key(table): "admission webhook refused"})
    problems = {(p.kind, p.name): p.reason for p in a.problems}
    assert problems == {
        key(vpc): "not created yet",
        key(bucket): "Synced=False ReconcileError: AccessDenied",
        key(key_mr): "Synced is for generation 1, not 2",
        key(table): "apply failed: admission webhook refused",
    }
    assert (a.total, a.ready) == (len(desired), len(desired) - 4)
    region = vpc["metadata"]["labels"]["platform.regional.io/region"]
    assert any(p.kind == "VPC" for p in a.problems_by_region[region])
    assert [p.kind for p in a.problems_by_component["network"]] == ["VPC"]
    assert [p.name for p in a.problems_by_kind["Table"]] == [table["metadata"]["name"]]


def test_conditions_place_pending_items_by_their_tags() -> None:
    result = rendered()
    desired = list(result.resources)
    live = {key(m): live_ready(m) for m in desired}
    conds = conditions_for(result, assess(desired, live, {}))
    accepter = next(p for p in result.pending if p.kind == "VPCPeeringConnectionAccepter")
    assert accepter.region == "us-east-2"
    assert str(accepter) in conds.get("RegionReady.us-east-2").message  # type: ignore[union-attr]
    assert str(accepter) not in conds.get("RegionReady.us-east-1").message  # type: ignore[union-attr]
    assert conds.get("PeeringReady").reason == "Pending"  # type: ignore[union-attr]
    replication = conds.get("ReplicationReady")
    assert replication is not None and replication.reason == "Pending"
    assert "RolePolicy/s3-replication" in replication.message
    assert "BucketReplicationConfiguration/" in replication.message
    alarms = conds.get("AlarmsConfigured")
    assert alarms is not None and alarms.status is False and "MetricAlarm/alarm-alb-5xx" in alarms.message
    assert not conds.is_true("Ready") and conds.is_true("Reconciling")


def test_a_deployment_with_nothing_pending_and_every_mr_ready_is_ready_with_its_thresholds_listed() -> None:
    result = rendered()
    complete = RenderResult(result.resources, (), result.regions, result.active_payments_region, result.thresholds,
                            result.outputs)
    live = {key(m): live_ready(m) for m in complete.resources}
    conds = conditions_for(complete, assess(list(complete.resources), live, {}))
    assert all(c.status for c in conds if c.type not in ("Reconciling", "Stalled")), list(conds)
    alarms = conds.get("AlarmsConfigured")
    assert alarms is not None and alarms.reason == "AlarmsActive"
    for region, thresholds in result.thresholds.items():
        for name, value in thresholds.items():
            assert f"{name}={value:g}" in alarms.message, (region, name)
    assert alarms.message.index("us-east-1: ") < alarms.message.index("; us-east-2: ")


def test_outputs_are_read_from_the_sources_the_render_result_names() -> None:
    # The main queue renders once its DLQ is Ready (SQS refuses a redrive policy to a queue that does not exist).
    first = rendered()
    dlqs = [live_ready(m, url=f"dlq-{m['metadata']['name']}") for m in first.resources
            if m["kind"] == "Queue" and "dlq" in m["metadata"]["name"]]
    cr = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    result = render(cr, load_defaults(), Observed.from_objects(dlqs))
    live = {}
    for source in result.outputs:
        mr = next(m for m in result.resources if key(m) == (source.kind, source.name))
        live[key(mr)] = live_ready(mr, **{source.attribute: f"{source.output}-{source.region}"})
    dlq = next(m for m in result.resources if m["kind"] == "Queue" and "dlq" in m["metadata"]["name"])
    live[key(dlq)] = live_ready(dlq, url="the-dead-letter-queue")
    out = outputs_for(result, live)
    assert out["us-east-1"]["queueUrl"] == "queueUrl-us-east-1"
    assert out["us-east-1"]["vpcId"] == "vpcId-us-east-1"
    assert set(out) == {"us-east-1", "us-east-2"}
    assert "the-dead-letter-queue" not in str(out)

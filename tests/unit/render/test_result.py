"""The render result is the contract with the reconcile wing: it carries every fact status reports, equal to what
the rendered MRs themselves say, so status never has to read them back out of names or labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regional_operator.defaults import RegionDefaults
from regional_operator.render import names, render
from regional_operator.render.context import LABEL_COMPONENT, LABEL_REGION
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_deployment


def test_every_pending_item_is_tagged_with_the_region_and_component_its_mr_carries_once_rendered(
        make_cr: Callable[..., dict[str, Any]], render_cr: Any,
        observe_all: Callable[[dict[str, Any]], Observed], context_for: Callable[..., Any]) -> None:
    cr = make_cr(3)
    unobserved = render_cr(cr)
    complete = {(m["kind"], m["metadata"]["name"]): m for m in render_cr(cr, observe_all(cr)).resources}
    assert unobserved.pending
    ctx = context_for(cr)
    functions = {r.name: names.lambda_function(ctx, r) for r in ctx.regions}
    for item in unobserved.pending:
        if item.kind == "Function":  # without the Lambda package it never renders: tagged all the same
            assert (item.component, functions.get(item.region or "")) == ("payments", item.name), item
            continue
        labels = complete[(item.kind, item.name)]["metadata"]["labels"]
        assert (item.region, item.component) == (labels[LABEL_REGION], labels[LABEL_COMPONENT]), item
    # the accepter's name carries the primary's code too: its region is where it is made, the secondary
    accepters = [p for p in unobserved.pending if p.kind == "VPCPeeringConnectionAccepter"]
    assert sorted(p.region or "" for p in accepters) == ["us-east-2", "us-west-2"]


def test_regions_payments_region_and_thresholds_come_with_the_result(make_cr: Callable[..., dict[str, Any]],
                                                                     render_cr: Any) -> None:
    cr = make_cr(2, payments={"activeRegion": "us-east-2"})
    result = render_cr(cr)
    assert [(r.name, r.code, r.primary) for r in result.regions] == [("us-east-1", "use1", True),
                                                                     ("us-east-2", "use2", False)]
    assert result.active_payments_region == "us-east-2"
    assert render_cr(make_cr(2)).active_payments_region == "us-east-1"  # the primary unless chosen
    alarms = [m for m in result.resources if m["kind"] == "MetricAlarm"]
    assert alarms, "the database, Lambda and DynamoDB alarms render without observed state"
    assert result.thresholds == {
        region: {m["metadata"]["name"]: float(m["spec"]["forProvider"]["threshold"]) for m in alarms
                 if m["metadata"]["labels"][LABEL_REGION] == region}
        for region in ("us-east-1", "us-east-2")}


def test_output_sources_name_exactly_the_rendered_mrs_status_reads(
        make_cr: Callable[..., dict[str, Any]], render_cr: Any,
        observe_all: Callable[[dict[str, Any]], Observed]) -> None:
    cr = make_cr(2)
    result = render_cr(cr, observe_all(cr))
    rendered = {(m["kind"], m["metadata"]["name"]): m for m in result.resources}
    got = {(s.region, s.output): (s.kind, s.name) for s in result.outputs}
    assert set(got) == {(r, o) for r in ("us-east-1", "us-east-2")
                        for o in ("vpcId", "albDnsName", "databaseEndpoint", "uploadsBucketArn", "queueUrl")} | {
        ("us-east-2", "peeringConnectionId")}
    for (region, output), key in got.items():
        labels = rendered[key]["metadata"]["labels"]
        if output != "peeringConnectionId":  # the requester lives in the primary and is shown for its peer
            assert labels[LABEL_REGION] == region
    queue = got[("us-east-1", "queueUrl")][1]
    assert "dlq" not in queue and rendered[("Queue", queue)]["spec"]["forProvider"].get("redrivePolicy")
    # without observed state the replica database is not rendered, so it has no output source yet
    unobserved = {(s.region, s.output) for s in render_cr(cr).outputs}
    assert ("us-east-2", "databaseEndpoint") not in unobserved


def test_render_takes_the_typed_model_or_the_object_alike(make_cr: Callable[..., dict[str, Any]],
                                                         defaults: RegionDefaults) -> None:
    cr = make_cr(2)
    assert render(parse_deployment(cr), defaults) == render(cr, defaults)

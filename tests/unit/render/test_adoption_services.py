"""Adoption of the application tier (spec.regions[].adopt: queues, paymentsFunction, loadBalancer, ecs, alarmTopic,
parameters): the provider's external name of each kind, the estate's AWS names in everything that names them
(ARNs, URLs, alarm dimensions, the processor's configuration path), nothing of ours attached to an observed ALB or
function, and a deployment that starts with the one adopted region and grows a second one around it.

MR names are never written out: they come from render.names (or the RenderContext of the same CR).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from regional_operator.artifact import load_artifact
from regional_operator.defaults import RegionDefaults
from regional_operator.errors import SpecValidationError
from regional_operator.render import RenderResult, names, render
from regional_operator.render.adoption import ADOPTED_ANNOTATION
from regional_operator.render.context import EXTERNAL_NAME, RenderContext
from regional_operator.render.observed import Observed

from tests.unit.render.conftest import ACCOUNT_ID, CrFactory, one, plausible_status, status_object
from tests.unit.render.test_adoption import adopt_all, estate_objects

QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/payments-legacy"
DLQ_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/payments-legacy-dlq"
FUNCTION = "payments-processor-legacy"
ESM_UUID = "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d"
LB_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:loadbalancer/app/payments-legacy/0123456789abcdef"
HTTPS_LISTENER = LB_ARN.replace(":loadbalancer/", ":listener/") + "/fedcba9876543210"
HTTP_LISTENER = LB_ARN.replace(":loadbalancer/", ":listener/") + "/00112233445566ff"
CLUSTER, SERVICE = "payments-legacy", "payments-api-legacy"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:payments-alarms-legacy"
PATH = "/payments/legacy/us-east-1/"


def adopt_services(mode: str = "Observe", *, uuid: bool = True, listeners: bool = True) -> dict[str, Any]:
    lb: dict[str, Any] = {"arn": LB_ARN, "mode": mode}
    if listeners:
        lb |= {"httpsListenerArn": HTTPS_LISTENER, "httpListenerArn": HTTP_LISTENER}
    function: dict[str, Any] = {"name": FUNCTION, "mode": mode}
    if uuid:
        function["eventSourceMappingUuid"] = ESM_UUID
    return {
        "queues": {"queueUrl": QUEUE_URL, "deadLetterQueueUrl": DLQ_URL, "mode": mode},
        "paymentsFunction": function, "loadBalancer": lb,
        "ecs": {"clusterName": CLUSTER, "serviceName": SERVICE, "mode": mode},
        "alarmTopic": {"arn": TOPIC_ARN, "mode": mode}, "parameters": {"path": PATH, "mode": mode},
    }


def with_certificate(cr: dict[str, Any]) -> dict[str, Any]:
    for region in cr["spec"]["regions"]:
        region["certificateArn"] = f"arn:aws:acm:{region['name']}:{ACCOUNT_ID}:certificate/abc"
    return cr


@pytest.fixture
def services_cr(make_cr: CrFactory) -> Callable[..., dict[str, Any]]:
    def factory(mode: str = "Observe", regions: int = 2, **kwargs: Any) -> dict[str, Any]:
        cr = with_certificate(make_cr(regions))
        cr["spec"]["regions"][0]["adopt"] = adopt_services(mode, **kwargs)
        return cr
    return factory


@pytest.fixture
def render_cr(defaults: RegionDefaults) -> Callable[..., RenderResult]:
    """With the real Lambda package, so the processor and its trigger are rendered."""
    artifact = load_artifact()

    def factory(cr: dict[str, Any], observed: Observed | None = None) -> RenderResult:
        return render(cr, defaults, observed, artifact)

    return factory


def settle(render_cr: Callable[..., RenderResult], cr: dict[str, Any], ctx: RenderContext,
           extra: list[dict[str, Any]] | None = None) -> RenderResult:
    """Render until every rendered MR is observed (plausible status; the adopted LB with its real ARN suffix)."""
    lb = status_object("LB", names.alb(ctx, ctx.primary), arn=LB_ARN,
                       arnSuffix=LB_ARN.split(":loadbalancer/")[1], dnsName="legacy.elb.amazonaws.com")
    real = {(o["kind"], o["metadata"]["name"]): o for o in [lb, *(extra or [])]}
    observed = Observed.from_objects(real.values())
    for _ in range(6):
        result = render_cr(cr, observed)
        objs = [status_object(m["kind"], m["metadata"]["name"], **plausible_status(m)) for m in result.resources]
        observed = Observed.from_objects(({(o["kind"], o["metadata"]["name"]): o for o in objs} | real).values())
    return render_cr(cr, observed)


def mr_of(result: RenderResult, kind: str, name: str) -> dict[str, Any] | None:
    return next((m for m in result.resources if m["kind"] == kind and m["metadata"]["name"] == name), None)


def test_each_adopted_kind_carries_the_external_name_the_provider_expects(
        services_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = services_cr()
    ctx = context_for(cr)
    result = settle(render_cr, cr, ctx)
    r = ctx.primary
    expected = {  # provider-external-names-v2.6.0.tsv: what the annotation holds per kind
        ("Queue", names.queue(ctx, r)): QUEUE_URL,  # IdentifierFromProvider: the URL, not the name
        ("Queue", names.dead_letter_queue(ctx, r)): DLQ_URL,
        ("Function", names.lambda_function(ctx, r)): FUNCTION,  # ParameterAsIdentifier(function_name)
        ("EventSourceMapping", names.event_source_mapping(ctx, r)): ESM_UUID,
        ("LB", names.alb(ctx, r)): LB_ARN,  # IdentifierFromProvider: the ARN
        ("LBListener", names.listener_https(ctx, r)): HTTPS_LISTENER,
        ("LBListener", names.listener_http(ctx, r)): HTTP_LISTENER,
        ("Cluster", names.ecs_cluster(ctx, r)): CLUSTER,  # the name (the ARN's last part)
        ("Service", names.ecs_service(ctx, r)): SERVICE,
        ("Topic", names.alarm_topic(ctx, r)): "payments-alarms-legacy",  # the name; the ARN is templated from it
        # settings taken with their resource: Lambda's own log group, the topic policy (by topic ARN), parameters
        ("Group", names.payments_log_group(ctx, r)): f"/aws/lambda/{FUNCTION}",
        ("TopicPolicy", names.alarm_topic_policy(ctx, r)): TOPIC_ARN,
        ("Parameter", names.parameter(ctx, r, "active-region")): f"{PATH}activeRegion",
    }
    for (kind, name), external in expected.items():
        mr = one(result.resources, kind, name)
        assert mr["metadata"]["annotations"][EXTERNAL_NAME] == external, (kind, name)
        assert mr["spec"]["managementPolicies"] == ["Observe"], (kind, name)
        assert mr["metadata"]["annotations"][ADOPTED_ANNOTATION].startswith("spec.regions[0].adopt."), (kind, name)
    # the secondary region creates its own, named as usual
    east2 = ctx.region("us-east-2")
    assert EXTERNAL_NAME not in one(result.resources, "Queue", names.queue(ctx, east2))["metadata"].get(
        "annotations", {})
    assert one(result.resources, "LB", names.alb(ctx, east2))["spec"]["managementPolicies"] == ["*"]


def test_the_estates_aws_names_are_used_wherever_aws_names_them(
        services_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = services_cr("Manage")
    ctx = context_for(cr)
    result = settle(render_cr, cr, ctx)
    r = ctx.primary
    queue = one(result.resources, "Queue", names.queue(ctx, r))["spec"]["forProvider"]
    assert queue["name"] == "payments-legacy"  # name is ForceNew: Manage must keep the estate's
    dlq_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:payments-legacy-dlq"
    assert json.loads(queue["redrivePolicy"])["deadLetterTargetArn"] == dlq_arn
    assert one(result.resources, "LB", names.alb(ctx, r))["spec"]["forProvider"]["name"] == "payments-legacy"
    function = one(result.resources, "Function", names.lambda_function(ctx, r))["spec"]["forProvider"]
    env = function["environment"]["variables"]
    assert env["CONFIG_PATH"] == PATH and env["DLQ_URL"] == DLQ_URL
    assert function["loggingConfig"]["logGroup"] == f"/aws/lambda/{FUNCTION}"
    role_policy = one(result.resources, "RolePolicy", ctx.names.named("lambda-role", r.name))
    policy = role_policy["spec"]["forProvider"]["policy"]
    for resource in (f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:payments-legacy", dlq_arn,
                     f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter{PATH}*",
                     f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{FUNCTION}",
                     f"log-group:/aws/lambda/{FUNCTION}:*"):
        assert resource in policy, resource
    esm = one(result.resources, "EventSourceMapping", names.event_source_mapping(ctx, r))["spec"]["forProvider"]
    assert esm["eventSourceArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:payments-legacy"
    alarms = [m for m in result.resources if m["kind"] == "MetricAlarm"
              and m["metadata"]["labels"]["platform.regional.io/region"] == "us-east-1"]
    assert {"FunctionName": FUNCTION} in [a["spec"]["forProvider"]["dimensions"] for a in alarms]
    assert {"LoadBalancer": "app/payments-legacy/0123456789abcdef"} in [
        a["spec"]["forProvider"]["dimensions"] for a in alarms]
    topic_policy = one(result.resources, "TopicPolicy", names.alarm_topic_policy(ctx, r))
    assert TOPIC_ARN in topic_policy["spec"]["forProvider"]["policy"]


def test_an_observed_alb_gets_no_listener_or_waf_of_ours_until_manage(
        services_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = services_cr("Observe", listeners=False)
    ctx = context_for(cr)
    result = settle(render_cr, cr, ctx)
    r = ctx.primary
    assert mr_of(result, "LBListener", names.listener_https(ctx, r)) is None
    assert mr_of(result, "LBListener", names.listener_http(ctx, r)) is None
    assert mr_of(result, "WebACLAssociation", ctx.names.regional("waf-alb", r.name)) is None
    assert any(p.kind == "WebACLAssociation" and "Manage" in p.waits_for for p in result.pending)
    managed = settle(render_cr, services_cr("Manage", listeners=False), ctx)
    assert mr_of(managed, "LBListener", names.listener_https(ctx, r)) is not None
    association = one(managed.resources, "WebACLAssociation", ctx.names.regional("waf-alb", r.name))
    assert association["spec"]["forProvider"]["resourceArn"] == LB_ARN


@pytest.mark.parametrize(("mode", "uuid", "rendered"), [
    ("Observe", False, False),  # the estate's own trigger keeps feeding the observed function
    ("Observe", True, True),  # adopted with it, observed
    ("Manage", False, True),  # promoted: the operator's trigger
])
def test_the_trigger_of_an_adopted_function(
        services_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult], mode: str, uuid: bool, rendered: bool) -> None:
    cr = services_cr(mode, uuid=uuid)
    ctx = context_for(cr)
    result = settle(render_cr, cr, ctx)
    esm = mr_of(result, "EventSourceMapping", names.event_source_mapping(ctx, ctx.primary))
    assert (esm is not None) == rendered
    if esm is not None and uuid:
        assert esm["metadata"]["annotations"][EXTERNAL_NAME] == ESM_UUID


def test_an_estate_starts_as_one_region_and_grows_a_second(
        make_cr: CrFactory, context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    """The migration: adopt the single us-east-1 estate, then add us-east-2; the adopted MRs stay what they were
    and the new region is wired to them (peering, replica, replication, table replica)."""
    single = with_certificate(make_cr(1))
    single["spec"]["regions"][0]["adopt"] = adopt_all("Manage") | adopt_services("Manage")
    ctx1 = context_for(single)
    first = settle(render_cr, single, ctx1, estate_objects(ctx1))
    kinds = {m["kind"] for m in first.resources}
    assert not {"VPCPeeringConnection", "VPCPeeringConnectionAccepter", "BucketReplicationConfiguration"} & kinds
    assert one(first.resources, "Table", names.sessions_table(ctx1))["spec"]["forProvider"]["replica"] == []
    grown = with_certificate(make_cr(2))
    grown["spec"]["regions"][0]["adopt"] = single["spec"]["regions"][0]["adopt"]
    ctx2 = context_for(grown)
    second = settle(render_cr, grown, ctx2, estate_objects(ctx2))
    for key in first.adopted:  # every adopted MR keeps its name, identifier and policies
        before, after = one(first.resources, *key), one(second.resources, *key)
        assert before["metadata"]["annotations"] == after["metadata"]["annotations"], key
        assert before["spec"]["managementPolicies"] == after["spec"]["managementPolicies"], key
    assert {"VPCPeeringConnection", "VPCPeeringConnectionAccepter"} <= {m["kind"] for m in second.resources}
    table = one(second.resources, "Table", names.sessions_table(ctx2))["spec"]["forProvider"]
    assert [rep["regionName"] for rep in table["replica"]] == ["us-east-2"]


@pytest.mark.parametrize(("component", "value", "field", "words"), [
    ("queues", {"queueUrl": QUEUE_URL.replace("us-east-1", "us-east-2"), "deadLetterQueueUrl": DLQ_URL},
     "queues.queueUrl", "this region and account"),
    ("queues", {"queueUrl": QUEUE_URL, "deadLetterQueueUrl": QUEUE_URL}, "queues.deadLetterQueueUrl", "differ"),
    ("loadBalancer", {"arn": LB_ARN.replace(ACCOUNT_ID, "999999999999")}, "loadBalancer.arn", "not in account"),
    ("loadBalancer", {"arn": LB_ARN, "httpsListenerArn": HTTPS_LISTENER.replace("0123456789abcdef",
                                                                                "1111111111111111")},
     "loadBalancer.httpsListenerArn", "is not a listener of"),
    ("alarmTopic", {"arn": TOPIC_ARN.replace("us-east-1", "us-west-2")}, "alarmTopic.arn", "not us-east-1"),
])
def test_mismatched_identifiers_are_refused_naming_the_field(
        make_cr: CrFactory, render_cr: Callable[..., RenderResult], component: str, value: dict[str, Any],
        field: str, words: str) -> None:
    cr = make_cr(2)
    cr["spec"]["regions"][0]["adopt"] = {component: value}
    with pytest.raises(SpecValidationError) as refused:
        render_cr(cr)
    assert refused.value.field == f"spec.regions[0].adopt.{field}"
    assert words in refused.value.rule


def test_regional_names_may_repeat_in_two_regions(make_cr: CrFactory, render_cr: Callable[..., RenderResult]) -> None:
    """A function, cluster or parameter path of one name in two regions is two resources (not one adopted twice)."""
    cr = make_cr(2)
    for region in cr["spec"]["regions"]:
        region["adopt"] = {"paymentsFunction": {"name": FUNCTION}, "ecs": {"clusterName": CLUSTER},
                           "parameters": {"path": "/payments/legacy/"}}
    result = render_cr(cr)
    assert len([k for k in result.adopted if k[0] == "Cluster"]) == 2

"""The ECS Fargate service builder: hardened task, private placement, least-privilege roles, and the ECS Service
waiting for the one ARN only AWS can choose (the Cloud Map service's)."""

from __future__ import annotations

import json
from typing import Any

from regional_operator.render import names
from regional_operator.render.service import log_group_name

from tests.crdschema import validate_mr

ECR_IMAGE = "210987654321.dkr.ecr.us-east-1.amazonaws.com/payments/api:1.4.2"


def component(result: Any, name: str) -> list[dict[str, Any]]:
    return [m for m in result.resources if m["metadata"]["labels"]["platform.regional.io/component"] == name]


def find(result: Any, kind: str, name: str) -> dict[str, Any] | None:
    return next((m for m in result.resources if m["kind"] == kind and m["metadata"]["name"] == name), None)


def test_every_service_mr_is_valid_before_and_after_observation(two_region_cr, render_cr, observe_all):
    for observed in (None, observe_all(two_region_cr)):
        mrs = component(render_cr(two_region_cr, observed), "service")
        assert mrs
        assert [e for m in mrs for e in validate_mr(m)] == []


def test_kinds_per_region(two_region_cr, render_cr, observe_all):
    result = render_cr(two_region_cr, observe_all(two_region_cr))
    for region in ("us-east-1", "us-east-2"):
        kinds = sorted(f"{m['apiVersion'].split('.')[0]}/{m['kind']}" for m in component(result, "service")
                       if m["metadata"]["labels"]["platform.regional.io/region"] == region)
        assert kinds == ["cloudwatchlogs/Group", "ecs/Cluster", "ecs/Service", "ecs/TaskDefinition", "iam/Role",
                         "iam/Role", "iam/RolePolicy", "servicediscovery/PrivateDNSNamespace",
                         "servicediscovery/Service"]


def test_ecs_service_waits_for_the_cloud_map_arn(two_region_cr, render_cr, observe_all, context_for):
    ctx = context_for(two_region_cr)
    before = render_cr(two_region_cr)
    after = render_cr(two_region_cr, observe_all(two_region_cr))
    for r in ctx.regions:
        name = names.ecs_service(ctx, r)
        assert find(before, "Service", name) is None
        assert any(p.kind == "Service" and p.name == name and "discovery-api" in p.waits_for for p in before.pending)
        service = find(after, "Service", name)
        assert service is not None and service["apiVersion"].startswith("ecs.")
        assert not any(p.name == name for p in after.pending)
        discovery = ctx.names.regional("discovery-api", r.name)
        assert service["spec"]["forProvider"]["serviceRegistries"]["registryArn"].endswith(f"service/{discovery}")


def test_ecs_service_runs_privately_behind_the_target_group(two_region_cr, render_cr, observe_all, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr, observe_all(two_region_cr))
    for r in ctx.regions:
        fp = find(result, "Service", names.ecs_service(ctx, r))["spec"]["forProvider"]
        net = fp["networkConfiguration"]
        assert net["assignPublicIp"] is False
        assert [s["name"] for s in net["subnetRefs"]] == [names.subnet(ctx, r, "private", i) for i in range(3)]
        assert net["securityGroupRefs"] == [{"name": names.security_group(ctx, r, "service")}]
        assert fp["launchType"] == "FARGATE"
        assert fp["desiredCount"] == r.settings.fargate_desired_count
        assert fp["clusterRef"] == {"name": names.ecs_cluster(ctx, r)}
        assert fp["taskDefinitionRef"] == {"name": _task_definition(result, r.name)["metadata"]["name"]}
        assert fp["loadBalancer"] == [{"targetGroupArnRef": {"name": names.target_group(ctx, r)},
                                       "containerName": "payments-api", "containerPort": 8080}]
        assert fp["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert fp["enableExecuteCommand"] is False


def test_task_definition_is_hardened_fargate(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        fp = _task_definition(result, r.name)["spec"]["forProvider"]
        assert fp["family"] == names.ecs_service(ctx, r)
        assert (fp["cpu"], fp["memory"]) == (str(r.settings.fargate_cpu), str(r.settings.fargate_memory))
        assert fp["networkMode"] == "awsvpc" and fp["requiresCompatibilities"] == ["FARGATE"]
        assert fp["executionRoleArnRef"] == {"name": ctx.names.named("ecs-execution-role", r.name)}
        assert fp["taskRoleArn"] == f"arn:aws:iam::123456789012:role/{ctx.names.named('ecs-task-role', r.name)}"
        (container,) = json.loads(fp["containerDefinitions"])
        assert container["image"] == ctx.spec.service.image
        assert container["readonlyRootFilesystem"] is True
        assert container["privileged"] is False
        assert container["user"].split(":")[0] not in ("", "0", "root")
        assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
        assert container["portMappings"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]
        logs = container["logConfiguration"]
        assert logs["logDriver"] == "awslogs"
        assert logs["options"]["awslogs-group"] == log_group_name(ctx, r)
        assert logs["options"]["awslogs-region"] == r.name
        # deterministic bytes: the same spec never produces a spurious update
        assert fp["containerDefinitions"] == json.dumps(json.loads(fp["containerDefinitions"]), sort_keys=True,
                                                        separators=(",", ":"))


def test_log_group_cluster_and_discovery(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        group = find(result, "Group", ctx.names.regional("ecs-logs", r.name))
        assert group is not None
        assert group["metadata"]["annotations"]["crossplane.io/external-name"] == log_group_name(ctx, r)
        assert group["spec"]["forProvider"]["retentionInDays"] == r.settings.production_log_retention_days  # prod
        assert ctx.log_retention_days(r) == r.settings.production_log_retention_days
        assert group["spec"]["forProvider"]["kmsKeyIdRef"] == {"name": names.kms_key(ctx, r)}
        cluster = find(result, "Cluster", names.ecs_cluster(ctx, r))
        assert cluster["spec"]["forProvider"]["setting"] == [{"name": "containerInsights", "value": "enabled"}]
        namespace = find(result, "PrivateDNSNamespace", ctx.names.regional("discovery", r.name))
        assert namespace["spec"]["forProvider"]["vpcRef"] == {"name": names.vpc(ctx, r)}
        assert namespace["spec"]["forProvider"]["name"] == f"payments.prod-{ctx.names.token}.{r.code}.internal"
        discovery = find(result, "Service", ctx.names.regional("discovery-api", r.name))
        dns = discovery["spec"]["forProvider"]["dnsConfig"]
        assert dns["namespaceIdRef"] == {"name": ctx.names.regional("discovery", r.name)}
        assert dns["dnsRecords"][0]["type"] == "A"


def _policy(result: Any, ctx: Any, r: Any) -> dict[str, Any]:
    mr = find(result, "RolePolicy", ctx.names.regional("ecs-exec-logs", r.name))
    assert mr is not None
    assert mr["spec"]["forProvider"]["roleRef"] == {"name": ctx.names.named("ecs-execution-role", r.name)}
    return json.loads(mr["spec"]["forProvider"]["policy"])


def test_execution_role_may_only_write_its_own_log_group(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        (statement,) = _policy(result, ctx, r)["Statement"]
        assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statement["Resource"] == f"arn:aws:logs:{r.name}:123456789012:log-group:{log_group_name(ctx, r)}:*"
        for role in ("ecs-execution-role", "ecs-task-role"):
            trust = json.loads(find(result, "Role", ctx.names.named(role, r.name))
                               ["spec"]["forProvider"]["assumeRolePolicy"])
            assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "ecs-tasks.amazonaws.com"}]
    # the task role (application identity) has no permissions at all
    assert not [m for m in component(result, "service") if m["kind"] == "RolePolicy"
                and "task" in m["spec"]["forProvider"]["roleRef"]["name"]]


def test_private_ecr_image_adds_pull_rights_for_that_repository_only(make_cr, render_cr, context_for):
    cr = make_cr(2, service={"image": ECR_IMAGE})
    ctx = context_for(cr)
    statements = _policy(render_cr(cr), ctx, ctx.primary)["Statement"]
    pull = next(s for s in statements if s["Sid"] == "PullServiceImage")
    assert pull["Resource"] == "arn:aws:ecr:us-east-1:210987654321:repository/payments/api"
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]  # no resource-level support in IAM


def _task_definition(result, region: str):
    (found,) = [m for m in result.resources if m["kind"] == "TaskDefinition"
                and m["metadata"]["labels"]["platform.regional.io/region"] == region]
    return found


def test_a_task_definition_change_is_a_new_revision_not_an_update(two_region_cr, render_cr, context_for):
    """Every task definition field is ForceNew (Terraform) and upjet refuses ForceNew updates: a new image or size
    must render a new TaskDefinition MR (a new revision of the same family) that the ECS Service points at."""
    ctx = context_for(two_region_cr)
    before = {r.name: _task_definition(render_cr(two_region_cr), r.name) for r in ctx.regions}
    two_region_cr["spec"]["service"] = {"image": "public.ecr.aws/nginx/nginx:1.28"}
    after = {r.name: _task_definition(render_cr(two_region_cr), r.name) for r in ctx.regions}
    for region, old in before.items():
        new = after[region]
        assert new["metadata"]["name"] != old["metadata"]["name"]
        assert new["spec"]["forProvider"]["family"] == old["spec"]["forProvider"]["family"]
    # a change that is not in the task definition (tags: cost center) keeps the same MR, updated in place
    two_region_cr["spec"]["costCenter"] = "cc-other"
    retagged = {r.name: _task_definition(render_cr(two_region_cr), r.name) for r in ctx.regions}
    assert {k: v["metadata"]["name"] for k, v in retagged.items()} == {k: v["metadata"]["name"]
                                                                       for k, v in after.items()}

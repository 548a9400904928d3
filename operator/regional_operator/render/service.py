"""Builder: the payments API on ECS Fargate, per region.

Per region: a Cluster, the service's log Group (KMS-encrypted with the region key), an execution role (pulls the
image, writes logs) and a task role (the application's own identity, no permissions until the app needs some),
a Fargate TaskDefinition, a Cloud Map private namespace + service (so peers in the VPC find the tasks by DNS),
and the ECS Service behind the ALB target group in the private subnets.

Two fields take literal ARNs (no Ref in the provider). The task Role ARN (TaskDefinition.taskRoleArn) and the
log group ARN (execution policy) are fully determined by account, region and our names, so they are built here.
The Cloud Map service ARN (ECS Service.serviceRegistries.registryArn) carries an id AWS picks, so it comes from
observed state and the ECS Service waits for it (ctx.pending) rather than render a half-filled object. It also
waits for the listener that forwards to its target group to be Ready (ECS refuses a target group not yet attached
to a load balancer).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from . import names
from .context import Region, RenderContext, compact_json, each_region, partition, policy_json, ref
from .edge import forwarding_listener

COMPONENT: Final = "service"
CONTAINER_NAME: Final = "payments-api"
# Any non-root uid:gid; images must not need root (ports >1024, no writes outside /tmp).
CONTAINER_USER: Final = "1000:1000"
SCRATCH_PATH: Final = "/tmp"  # noqa: S108 - a task-private ephemeral volume, the only writable path
DISCOVERY_SERVICE_NAME: Final = "api"
DISCOVERY_TTL_SECONDS: Final = 10
HEALTH_CHECK_GRACE_SECONDS: Final = 60
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]: a private ECR image needs pull rights.
_PRIVATE_ECR: Final = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)"
)


def _arn(ctx: RenderContext, service: str, region: str, resource: str) -> str:
    """An ARN fully determined by our names (no id chosen by AWS), so nothing needs to be observed."""
    return f"arn:{partition(region)}:{service}:{region}:{ctx.spec.aws_account_id}:{resource}"


def private_ecr_image_region(ctx: RenderContext) -> str | None:
    """The region of the service image's private ECR repository, or None for any other registry."""
    match = _PRIVATE_ECR.match(ctx.spec.service.image)
    return match["region"] if match else None


def _trust_ecs_tasks(ctx: RenderContext, r: Region, *, confused_deputy_guard: bool) -> str:
    """Only ECS tasks may assume these roles; who may hand a role to a task is governed by iam:PassRole.
    The task role (the application's identity) also pins the calling ECS account and region (aws:SourceAccount /
    aws:SourceArn), the ECS task-role guide's guard against confused-deputy use. The execution role keeps the
    plain trust policy of the ECS execution-role guide: a condition the agent's call might not satisfy would stop
    every task from starting, and this role can only write one log group (and pull one repository) anyway."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if confused_deputy_guard:
        statement["Condition"] = {
            "StringEquals": {"aws:SourceAccount": ctx.spec.aws_account_id},
            "ArnLike": {"aws:SourceArn": _arn(ctx, "ecs", r.name, "*")},
        }
    return policy_json([statement])


def log_group_name(ctx: RenderContext, r: Region) -> str:
    """The AWS name of the service's log group (CloudWatch Logs names may contain '/', MR names may not)."""
    return f"/ecs/{names.ecs_service(ctx, r)}"


def namespace_dns_name(ctx: RenderContext, r: Region) -> str:
    """Private DNS zone of the region's Cloud Map namespace, unique per deployment and region (the token: two
    deployments with one suffix must not share a zone name)."""
    return f"payments.{ctx.spec.environment_suffix}-{ctx.names.token}.{r.code}.internal"


def _execution_policy(ctx: RenderContext, log_group_arn: str) -> str:
    """Least privilege for the ECS agent: write to exactly this log group; pull only the configured private ECR
    repository (none for public images). GetAuthorizationToken has no resource-level permissions in IAM."""
    statements: list[dict[str, Any]] = [{
        "Sid": "WriteServiceLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:*",
    }]
    match = _PRIVATE_ECR.match(ctx.spec.service.image)
    if match:
        statements += [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullServiceImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": (f"arn:{partition(match['region'])}:ecr:{match['region']}:{match['account']}:"
                             f"repository/{match['repo']}"),
            },
        ]
    return policy_json(statements)


def _container_definitions(ctx: RenderContext, r: Region) -> str:
    """One hardened container: read-only root, non-root user, no privileges or capabilities, awslogs to our group."""
    port = ctx.spec.service.container_port
    return compact_json([{
        "name": CONTAINER_NAME,
        "image": ctx.spec.service.image,
        "essential": True,
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group_name(ctx, r),
                "awslogs-region": r.name,
                "awslogs-stream-prefix": CONTAINER_NAME,
            },
        },
        "readonlyRootFilesystem": True,
        "user": CONTAINER_USER,
        "privileged": False,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True},
        "mountPoints": [{"sourceVolume": "scratch", "containerPath": SCRATCH_PATH, "readOnly": False}],
        "environment": [{"name": "PORT", "value": str(port)}],
    }])


def _region(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cluster = names.ecs_cluster(ctx, r)
    ecs_service = names.ecs_service(ctx, r)
    log_group = ctx.names.regional("ecs-logs", r.name)
    exec_role = ctx.names.named("ecs-execution-role", r.name)
    task_role = ctx.names.named("ecs-task-role", r.name)
    exec_policy = ctx.names.regional("ecs-exec-logs", r.name)
    namespace = ctx.names.regional("discovery", r.name)
    discovery = ctx.names.regional("discovery-api", r.name)

    out.append(ctx.mr("ecs/Cluster", cluster, region=r, component=COMPONENT, for_provider={
        "setting": [{"name": "containerInsights", "value": "enabled"}],
    }))
    out.append(ctx.mr("cloudwatchlogs/Group", log_group, region=r, component=COMPONENT,
                      external_name=log_group_name(ctx, r), for_provider={
                          "retentionInDays": ctx.log_retention_days(r),
                          "kmsKeyIdRef": ref(names.kms_key(ctx, r)),
                      }))
    for role, purpose, guard in ((exec_role, "ECS agent: pull the image and write logs", False),
                                 (task_role, "payments API tasks (application identity)", True)):
        out.append(ctx.mr("iam/Role", role, region=r, component=COMPONENT, for_provider={
            "assumeRolePolicy": _trust_ecs_tasks(ctx, r, confused_deputy_guard=guard),
            "description": f"{purpose}, {r.name}",
            "maxSessionDuration": 3600,
        }))
    out.append(ctx.mr("iam/RolePolicy", exec_policy, region=r, component=COMPONENT, for_provider={
        "roleRef": ref(exec_role),
        "policy": _execution_policy(ctx, _arn(ctx, "logs", r.name, f"log-group:{log_group_name(ctx, r)}")),
    }))
    task_def_fields: dict[str, Any] = {
        "family": ecs_service,
        "cpu": str(r.settings.fargate_cpu),
        "memory": str(r.settings.fargate_memory),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "executionRoleArnRef": ref(exec_role),
        # no Ref field for the task role; an IAM role ARN is arn:aws:iam::<account>:role/<name>
        "taskRoleArn": ctx.arn("iam", r, f"role/{task_role}", regional=False),
        "containerDefinitions": _container_definitions(ctx, r),
        "volume": [{"name": "scratch"}],
    }
    task_def = task_definition_name(ctx, r, task_def_fields)
    out.append(ctx.mr("ecs/TaskDefinition", task_def, region=r, component=COMPONENT, for_provider=task_def_fields))

    out.append(ctx.mr("servicediscovery/PrivateDNSNamespace", namespace, region=r, component=COMPONENT,
                      for_provider={
                          "name": namespace_dns_name(ctx, r),
                          "description": f"payments service discovery, {r.name}",
                          "vpcRef": ref(names.vpc(ctx, r)),
                      }))
    out.append(ctx.mr("servicediscovery/Service", discovery, region=r, component=COMPONENT, for_provider={
        "name": DISCOVERY_SERVICE_NAME,
        "description": "payments API tasks (A records registered by ECS)",
        "dnsConfig": {
            "namespaceIdRef": ref(namespace),
            "dnsRecords": [{"type": "A", "ttl": DISCOVERY_TTL_SECONDS}],
            "routingPolicy": "MULTIVALUE",
        },
        # ECS reports task health to Cloud Map; AWS fixes the threshold at 1 (the field is deprecated).
        "healthCheckCustomConfig": {"failureThreshold": 1},
        "forceDestroy": True,
    }))

    registry_arn = ctx.observed_value("Service", discovery, "arn", needed_by=("Service", ecs_service))
    # CreateService with a load balancer refuses a target group no listener attaches to a load balancer yet
    # ("The target group ... does not have an associated load balancer"), so the service waits for the listener.
    # Without a certificate nothing forwards (plain HTTP is refused at the ALB), so the service runs without the
    # target group: reachable inside the VPC through Cloud Map only, until a certificate is set.
    listener = forwarding_listener(ctx, r)
    listener_ready = listener is None or ctx.observed_ready("LBListener", listener, needed_by=("Service", ecs_service))
    if registry_arn and listener_ready:
        out.append(_ecs_service(ctx, r, ecs_service, cluster=cluster, task_def=task_def, registry_arn=registry_arn,
                                behind_alb=listener is not None))
    return out


def task_definition_name(ctx: RenderContext, r: Region, fields: dict[str, Any]) -> str:
    """The TaskDefinition MR's name carries a digest of its fields. Terraform marks every field of a task definition
    ForceNew (internal/service/ecs/task_definition.go: family, cpu, memory, container_definitions, ...) and upjet
    refuses ForceNew updates, so a new image, size or port must be a new MR, i.e. a new revision of the same
    family, which the ECS Service's taskDefinitionRef then points at (an in-place service update); the old MR is
    pruned, deregistering the old revision. Tags (updatable in place) are not in the digest."""
    digest = hashlib.sha256(compact_json(fields).encode()).hexdigest()[:8]
    return ctx.names.regional(f"payments-api-{digest}", r.name)


def _ecs_service(ctx: RenderContext, r: Region, name: str, *, cluster: str, task_def: str,
                 registry_arn: str, behind_alb: bool) -> dict[str, Any]:
    """Fargate service in the private subnets (no public IP), behind the ALB target group (when a listener
    forwards to it), registered in Cloud Map; a failed deployment rolls back by itself."""
    load_balancer = [{
        "targetGroupArnRef": ref(names.target_group(ctx, r)),
        "containerName": CONTAINER_NAME,
        "containerPort": ctx.spec.service.container_port,
    }] if behind_alb else []
    return ctx.mr("ecs/Service", name, region=r, component=COMPONENT, for_provider={
        "launchType": "FARGATE",
        "clusterRef": ref(cluster),
        "taskDefinitionRef": ref(task_def),
        "desiredCount": r.settings.fargate_desired_count,
        "networkConfiguration": {
            "subnetRefs": [ref(names.subnet(ctx, r, "private", i)) for i in range(3)],
            "securityGroupRefs": [ref(names.security_group(ctx, r, "service"))],
            "assignPublicIp": False,
        },
        **({"loadBalancer": load_balancer} if load_balancer else {}),
        "serviceRegistries": {"registryArn": registry_arn},
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "deploymentMinimumHealthyPercent": 100,
        "deploymentMaximumPercent": 200,
        "healthCheckGracePeriodSeconds": HEALTH_CHECK_GRACE_SECONDS,
        "enableExecuteCommand": False,
        "enableEcsManagedTags": True,
        "propagateTags": "SERVICE",
    })


build = each_region(_region)

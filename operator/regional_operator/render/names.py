"""Names of MRs that more than one builder refers to (a builder's private sub-resources name themselves).

Every name is made by the Namer (or, for the few strings that are not `<prefix>-<suffix>-<code>-<token>`, here
with the same token); this module only says which template or prefix each shared MR uses, so a
reference in one builder and the object in another cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # context builds the adoption index with these names, so names must not import it at run time
    from .context import Region, RenderContext


def adopted(ctx: RenderContext, r: Region, path: str) -> str | None:
    """`spec.regions[].adopt.<path>` of region r (e.g. "database.identifier"), or None when that component is not
    adopted. The AWS name of an adopted resource is the estate's, so every accessor below is "adopted, else ours"."""
    value: Any = ctx.adopt_of(r)
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return None if value is None else str(value)


def vpc(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("vpc", r.name)


def subnet(ctx: RenderContext, r: Region, tier: str, az_index: int) -> str:
    """tier is "public" or "private"; az_index 0..2 (a, b, c)."""
    return ctx.names.regional(f"subnet-{tier}-{'abc'[az_index]}", r.name)


def public_route_table(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("rt-public", r.name)


def internet_gateway(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("igw", r.name)


def nat_gateway(ctx: RenderContext, r: Region, az_index: int) -> str:
    return ctx.names.regional(f"nat-{'abc'[az_index]}", r.name)


def private_route_table(ctx: RenderContext, r: Region, az_index: int) -> str:
    return ctx.names.regional(f"rt-private-{'abc'[az_index]}", r.name)


def security_group(ctx: RenderContext, r: Region, role: str) -> str:
    """role: alb, service, database, lambda. (AWS refuses security group names starting with "sg-".)"""
    return ctx.names.regional(f"{role}-sg", r.name)


def kms_key(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("kms", r.name)


def database(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("database", r.name)


def database_identifier(ctx: RenderContext, r: Region) -> str:
    """The instance's AWS identifier: the adopted one (spec.regions[].adopt.database), else the MR's name."""
    return adopted(ctx, r, "database.identifier") or database(ctx, r)


def sessions_table(ctx: RenderContext) -> str:
    return ctx.names.global_("sessions")


def ledger_table(ctx: RenderContext) -> str:
    return ctx.names.global_("ledger")


def sessions_table_name(ctx: RenderContext) -> str:
    """The table's AWS name: the adopted one (on the hub region), else the MR's name."""
    return adopted(ctx, ctx.primary, "sessions_table.name") or sessions_table(ctx)


def ledger_table_name(ctx: RenderContext) -> str:
    return adopted(ctx, ctx.primary, "ledger_table.name") or ledger_table(ctx)


def uploads_bucket(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("uploads-bucket", r.name)


def uploads_bucket_name(ctx: RenderContext, r: Region) -> str:
    """The bucket's AWS name (what ARNs and policies name): the adopted one, else the MR's name."""
    return adopted(ctx, r, "uploads_bucket.name") or uploads_bucket(ctx, r)


def artifacts_bucket(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("artifacts-bucket", r.name)


def lambda_function(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("lambda-function", r.name)


def lambda_function_name(ctx: RenderContext, r: Region) -> str:
    """The function's AWS name (what ARNs, log groups and alarm dimensions name): the adopted one, else the MR's."""
    return adopted(ctx, r, "payments_function.name") or lambda_function(ctx, r)


def queue(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("queue", r.name)


def dead_letter_queue(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("dead-letter-queue", r.name)


def queue_name(ctx: RenderContext, r: Region) -> str:
    """The payments queue's AWS name: the last part of the adopted URL, else the MR's name."""
    return adopted(ctx, r, "queues.queue_name") or queue(ctx, r)


def dead_letter_queue_name(ctx: RenderContext, r: Region) -> str:
    return adopted(ctx, r, "queues.dead_letter_queue_name") or dead_letter_queue(ctx, r)


def alarm_topic(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("alarms", r.name)


def alarm_topic_policy(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("alarms-policy", r.name)


def alarm_topic_name(ctx: RenderContext, r: Region) -> str:
    return adopted(ctx, r, "alarm_topic.name") or alarm_topic(ctx, r)


def waf(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("waf", r.name)


def alb(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("alb", r.name)


def alb_name(ctx: RenderContext, r: Region) -> str:
    """The ALB's AWS name (ForceNew): the adopted one's, else the MR's name."""
    return adopted(ctx, r, "load_balancer.name") or alb(ctx, r)


def listener_http(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("listener-http", r.name)


def listener_https(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("listener-https", r.name)


def event_source_mapping(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("payments-esm", r.name)


def payments_log_group(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("payments-logs", r.name)


# The payments configuration under ssm_path: parameter name (as the handler reads it) -> MR name part.
PAYMENT_PARAMETERS: Final = {"apiEndpoint": "api-endpoint", "activeRegion": "active-region",
                             "maxReceiveCount": "max-receive-count"}


def parameter(ctx: RenderContext, r: Region, part: str) -> str:
    return ctx.names.regional(f"param-{part}", r.name)


def target_group(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("target-group", r.name)


def ecs_cluster(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("payments-svc", r.name)


def ecs_service(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional("payments-api", r.name)


def peering(ctx: RenderContext, secondary: Region) -> str:
    """The requester lives in the primary region and is named after the secondary it reaches."""
    return ctx.names.regional(f"pcx-{ctx.primary.code}", secondary.name)


def ssm_path(ctx: RenderContext, r: Region) -> str:
    """Parameter Store path holding a region's payments configuration (the Lambda reads exactly this path;
    it ends in '/' as the handler's CONFIG_PATH must). The deployment token keeps two deployments with one suffix
    from writing each other's parameters. An adopted path (spec.regions[].adopt.parameters) is the estate's own."""
    return adopted(ctx, r, "parameters.path") or f"/payments/{ctx.spec.environment_suffix}-{ctx.names.token}/{r.name}/"


def kms_alias_name(ctx: RenderContext, r: Region) -> str:
    """The AWS alias of the region's key; used where a field takes a key id/alias but has no Ref (SQS, SNS)."""
    return f"alias/{kms_alias_external_name(ctx, r)}"


def kms_alias_external_name(ctx: RenderContext, r: Region) -> str:
    """The alias as the provider keeps it in the Alias MR's external name: without the `alias/` prefix (its
    kmsAlias() external-name config adds the prefix for AWS and stores the name without it, so an annotation
    with the prefix would be rewritten after every apply)."""
    return f"payments-{ctx.spec.environment_suffix}-{r.code}-{ctx.names.token}"

"""Adoption: which rendered MRs stand for AWS resources that already exist (spec.regions[].adopt), and how.

An adopted MR keeps the name the Namer gives it (so every reference between MRs is unchanged) and gets
- `crossplane.io/external-name`: the identifier in the form the provider's external-name configuration expects
  for its kind (provider-upjet-aws v2.6.0 `config/externalname.go`, tabled in
  ../shared/crossplane/provider-external-names-v2.6.0.tsv): a VPC, subnet, route table, gateway by its id; a KMS
  key by its key id (not the ARN); an RDS instance by its DbiResourceId (not the identifier, which goes into
  `forProvider.identifier`); a bucket or table by its name; a bucket's sub-settings by the bucket name;
- `spec.managementPolicies`: `["Observe"]` in mode Observe (the provider reads and changes nothing, never creates,
  never deletes), in mode Manage everything but Delete unless `adopt.deletion` is Delete;
- the annotation ADOPTED_ANNOTATION naming the spec field it comes from, so status, the Orphaned event and the
  plan CLI can say which field an MR was adopted by without re-deriving it from names.

Parts of a fresh network that an adopted VPC already has (the NAT gateways' Elastic IPs, the default routes, the
route table associations, the NACLs that would take over its subnets) are not rendered at all: see network.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..spec import AdoptSpec
from . import names

if TYPE_CHECKING:
    from .context import Region, RenderContext

ADOPTED_ANNOTATION: Final = "platform.regional.io/adopted-from"
OBSERVE_ONLY: Final = ["Observe"]
MANAGE_WITHOUT_DELETE: Final = ["Observe", "Create", "Update", "LateInitialize"]
FULL_MANAGEMENT: Final = ["*"]
# The settings MRs of a bucket: the provider knows each by the bucket name (s3BucketIdentifier() or the
# Terraform id = bucket), so an adopted bucket's existing settings are observed, not overwritten, in Observe.
BUCKET_SETTINGS: Final = ("s3/BucketVersioning", "s3/BucketServerSideEncryptionConfiguration",
                          "s3/BucketLifecycleConfiguration", "s3/BucketPublicAccessBlock", "s3/BucketPolicy",
                          "s3/BucketReplicationConfiguration")
# Entry = (kind key as in render/kinds.py, MR name, field under adopt, identifier, mode, external name, setting)
_Entry = tuple[str, str, str, str, str, str, bool]


@dataclass(frozen=True)
class Adopted:
    """One MR that stands for an existing AWS resource."""

    field: str  # the spec field it is adopted by, e.g. spec.regions[0].adopt.vpc.privateSubnetIds[1]
    identifier: str  # as the user gave it
    external_name: str  # as the provider's external-name config wants it
    mode: str  # Observe | Manage
    deletion: str  # Orphan | Delete
    # a setting of an adopted resource (a bucket's versioning, policy...), not a resource: the bucket may not have
    # it yet, so Manage may create it, and its absence in Observe is drift, not an unknown identifier
    setting: bool = False

    def management_policies(self, *, seen: bool) -> list[str]:
        """Observe: observe only. Manage: all but Delete (unless deletion is Delete), and Create only once the
        provider has `seen` the resource: with Create, a wrong identifier would make the provider create a new
        resource in its place (crossplane-runtime creates what Observe did not find)."""
        if self.mode == "Observe":
            return list(OBSERVE_ONLY)
        policies = list(FULL_MANAGEMENT if self.deletion == "Delete" else MANAGE_WITHOUT_DELETE)
        if not seen and not self.setting:
            return [p for p in (MANAGE_WITHOUT_DELETE if policies == FULL_MANAGEMENT else policies) if p != "Create"]
        return policies

    @property
    def observe_only(self) -> bool:
        return self.mode == "Observe"


def kms_key_id(arn: str) -> str:
    """The key id of a key ARN (arn:...:key/<id>): the Key kind's external name (IdentifierFromProvider)."""
    return arn.rsplit("/", 1)[1]


def index(ctx: RenderContext) -> dict[tuple[str, str], Adopted]:
    """Every adopted MR of the deployment, keyed by (kind key as in render/kinds.py, MR name)."""
    out: dict[tuple[str, str], Adopted] = {}
    for region_spec, r in zip(ctx.spec.regions, ctx.regions, strict=True):
        if region_spec.adopt is None:
            continue
        at = f"spec.regions[{r.index}].adopt"
        entries = [(*e, e[0] in BUCKET_SETTINGS) for e in _entries(ctx, r, region_spec.adopt)]
        for key, name, field, identifier, mode, external, setting in entries + _settings(ctx, r, region_spec.adopt):
            out[(key, name)] = Adopted(f"{at}.{field}", identifier, external, mode, region_spec.adopt.deletion,
                                       setting=setting)
    return out


def _settings(ctx: RenderContext, r: Region, adopt: AdoptSpec) -> list[_Entry]:
    """Resources that belong to an adopted one and that it may not have yet (setting=True: Manage may create them,
    their absence in Observe is drift): a function's own log group (Lambda makes /aws/lambda/<name> on first
    use), a topic's policy (known by the topic ARN), the parameters under an adopted path (known by their name)."""
    out: list[_Entry] = []
    if adopt.payments_function is not None:
        fn = adopt.payments_function
        group = f"/aws/lambda/{fn.name}"
        out.append(("cloudwatchlogs/Group", names.payments_log_group(ctx, r), "paymentsFunction.name", fn.name,
                    fn.mode, group, True))
    if adopt.alarm_topic is not None:
        topic = adopt.alarm_topic
        out.append(("sns/TopicPolicy", names.alarm_topic_policy(ctx, r), "alarmTopic.arn", topic.arn,
                    topic.mode, topic.arn, True))
    if adopt.parameters is not None:
        params = adopt.parameters
        out += [("ssm/Parameter", names.parameter(ctx, r, part), "parameters.path", params.path, params.mode,
                 f"{params.path}{key}", True) for key, part in names.PAYMENT_PARAMETERS.items()]
    return out


def _entries(ctx: RenderContext, r: Region, adopt: AdoptSpec) -> list[tuple[str, str, str, str, str, str]]:
    """(kind key, MR name, field under adopt, identifier, mode, external name) of one region's adoptions."""
    out: list[tuple[str, str, str, str, str, str]] = []
    if adopt.vpc is not None:
        vpc, mode = adopt.vpc, adopt.vpc.mode
        out.append(("ec2/VPC", names.vpc(ctx, r), "vpc.id", vpc.id, mode, vpc.id))
        for tier, ids in (("public", vpc.public_subnet_ids), ("private", vpc.private_subnet_ids)):
            out += [("ec2/Subnet", names.subnet(ctx, r, tier, i), f"vpc.{tier}SubnetIds[{i}]", subnet, mode, subnet)
                    for i, subnet in enumerate(ids)]
        out.append(("ec2/RouteTable", names.public_route_table(ctx, r), "vpc.publicRouteTableId",
                    vpc.public_route_table_id, mode, vpc.public_route_table_id))
        out += [("ec2/RouteTable", names.private_route_table(ctx, r, i), f"vpc.privateRouteTableIds[{i}]", table,
                 mode, table) for i, table in enumerate(vpc.private_route_table_ids)]
        out.append(("ec2/InternetGateway", names.internet_gateway(ctx, r), "vpc.internetGatewayId",
                    vpc.internet_gateway_id, mode, vpc.internet_gateway_id))
        out += [("ec2/NATGateway", names.nat_gateway(ctx, r, i), f"vpc.natGatewayIds[{i}]", nat, mode, nat)
                for i, nat in enumerate(vpc.nat_gateway_ids)]
    if adopt.kms_key is not None:
        key = adopt.kms_key
        out.append(("kms/Key", names.kms_key(ctx, r), "kmsKey.arn", key.arn, key.mode, kms_key_id(key.arn)))
    if adopt.database is not None:
        db = adopt.database
        out.append(("rds/Instance", names.database(ctx, r), "database.resourceId", db.resource_id, db.mode,
                    db.resource_id))
    if adopt.uploads_bucket is not None:
        bucket, name = adopt.uploads_bucket, names.uploads_bucket(ctx, r)
        out += [(key, name, "uploadsBucket.name", bucket.name, bucket.mode, bucket.name)
                for key in ("s3/Bucket", *BUCKET_SETTINGS)]
    for field, table, name in (("sessionsTable", adopt.sessions_table, names.sessions_table(ctx)),
                               ("ledgerTable", adopt.ledger_table, names.ledger_table(ctx))):
        if table is not None:
            out.append(("dynamodb/Table", name, f"{field}.name", table.name, table.mode, table.name))
    if adopt.queues is not None:
        q = adopt.queues
        out += [("sqs/Queue", names.queue(ctx, r), "queues.queueUrl", q.queue_url, q.mode, q.queue_url),
                ("sqs/Queue", names.dead_letter_queue(ctx, r), "queues.deadLetterQueueUrl", q.dead_letter_queue_url,
                 q.mode, q.dead_letter_queue_url)]
    if adopt.payments_function is not None:
        fn = adopt.payments_function
        out.append(("lambda/Function", names.lambda_function(ctx, r), "paymentsFunction.name", fn.name, fn.mode,
                    fn.name))
        if fn.event_source_mapping_uuid:
            out.append(("lambda/EventSourceMapping", names.event_source_mapping(ctx, r),
                        "paymentsFunction.eventSourceMappingUuid", fn.event_source_mapping_uuid, fn.mode,
                        fn.event_source_mapping_uuid))
    if adopt.load_balancer is not None:
        lb = adopt.load_balancer
        out.append(("elbv2/LB", names.alb(ctx, r), "loadBalancer.arn", lb.arn, lb.mode, lb.arn))
        for field, listener, name in (("httpsListenerArn", lb.https_listener_arn, names.listener_https(ctx, r)),
                                      ("httpListenerArn", lb.http_listener_arn, names.listener_http(ctx, r))):
            if listener:
                out.append(("elbv2/LBListener", name, f"loadBalancer.{field}", listener, lb.mode, listener))
    if adopt.ecs is not None:
        ecs = adopt.ecs
        out.append(("ecs/Cluster", names.ecs_cluster(ctx, r), "ecs.clusterName", ecs.cluster_name, ecs.mode,
                    ecs.cluster_name))
        if ecs.service_name:
            out.append(("ecs/Service", names.ecs_service(ctx, r), "ecs.serviceName", ecs.service_name, ecs.mode,
                        ecs.service_name))
    if adopt.alarm_topic is not None:
        topic = adopt.alarm_topic
        out.append(("sns/Topic", names.alarm_topic(ctx, r), "alarmTopic.arn", topic.arn, topic.mode, topic.name))
    return out


def adopted_vpc(ctx: RenderContext, r: Region) -> bool:
    """Whether `r`'s network is an existing one (its gateways, default routes and associations exist already)."""
    adopt = ctx.adopt_of(r)
    return adopt is not None and adopt.vpc is not None


@dataclass(frozen=True)
class Blocked:
    """Something the deployment needs that an adopted resource does not allow yet, and what must change first. The
    operator never changes it silently: the dependent is not rendered and status says Stalled until it is fixed."""

    kind: str
    name: str
    field: str  # the adopt field of the resource in the way
    needs: str  # what must change, in words

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} ({self.field}): {self.needs}"

"""The typed RegionalDeployment spec, parsed once at the edge; the renderer never touches the raw dict.

The CRD (crds/) refuses most bad input at admission; this model re-checks the same rules (the CLI renders files
that never saw an API server) and reports the first problem as a SpecValidationError naming the field. Per-field
rules are the model's validators here; every cross-field rule is in `validation.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .errors import SpecValidationError
from .validation import check_spec

MAX_CR_NAME: Final = 40  # label values (63) and MR names stay within limits; the CRD refuses longer too
CERTIFICATE_ARN_PATTERN = r"^arn:aws[a-z-]*:acm:"
# Environments treated as production: they must serve HTTPS (spec.edge.certificateArn) and keep logs a year.
# The CRD's CEL rule on spec.edge names the same list.
PRODUCTION_ENVIRONMENTS: tuple[str, ...] = ("prod", "production")


class _Model(BaseModel):
    # strict: no "8080" -> 8080 or "yes" -> True coercion, so a file the CLI renders is one the CRD admits.
    # allow_inf_nan=False: `.inf` in a YAML threshold would render a non-JSON number no API server accepts
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True,
                              strict=True, allow_inf_nan=False)


class ProviderConfigRef(_Model):
    kind: Literal["ClusterProviderConfig", "ProviderConfig"] = "ClusterProviderConfig"
    name: str = Field(default="default", min_length=1, max_length=253)


class AlarmThresholds(_Model):
    """Every field optional: unset ones come from the region defaults file."""

    rds_cpu_percent: float | None = Field(default=None, gt=0, le=100)
    rds_free_storage_bytes: float | None = Field(default=None, gt=0)
    rds_connections: float | None = Field(default=None, gt=0)  # absolute; wins over the percentage below
    rds_connections_percent_of_max: float | None = Field(default=None, gt=0, le=100)
    lambda_errors: float | None = Field(default=None, gt=0)
    lambda_throttles: float | None = Field(default=None, gt=0)
    lambda_duration_p99_ms: float | None = Field(default=None, gt=0)
    alb_5xx_count: float | None = Field(default=None, gt=0, alias="alb5xxCount")
    alb_target_p99_latency_seconds: float | None = Field(default=None, gt=0)
    dynamodb_throttles: float | None = Field(default=None, gt=0)
    dynamodb_replication_latency_ms: float | None = Field(default=None, gt=0)


class DatabaseSettings(_Model):
    instance_class: str | None = Field(default=None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage_gib: int | None = Field(default=None, ge=20, le=65536, alias="allocatedStorageGiB")


class LambdaSettings(_Model):
    memory_mb: int | None = Field(default=None, ge=128, le=10240)
    timeout_seconds: int | None = Field(default=None, ge=1, le=900)
    reserved_concurrency: int | None = Field(default=None, ge=0)


class FargateSettings(_Model):
    cpu: int | None = None
    memory: int | None = None
    desired_count: int | None = Field(default=None, ge=0, le=100)


AdoptMode = Literal["Observe", "Manage"]
# Identifier shapes AWS documents for each kind (docs/aws-semantics.md, "Adoption"); the CRD states the same.
VPC_ID_PATTERN: Final = r"^vpc-[0-9a-f]{8,17}$"
SUBNET_ID_PATTERN: Final = r"^subnet-[0-9a-f]{8,17}$"
ROUTE_TABLE_ID_PATTERN: Final = r"^rtb-[0-9a-f]{8,17}$"
INTERNET_GATEWAY_ID_PATTERN: Final = r"^igw-[0-9a-f]{8,17}$"
NAT_GATEWAY_ID_PATTERN: Final = r"^nat-[0-9a-f]{8,17}$"
KMS_KEY_ARN_PATTERN: Final = (r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/"
                               r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
DB_IDENTIFIER_PATTERN: Final = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"  # and no "--" (checked apart: no lookahead)
DB_RESOURCE_ID_PATTERN: Final = r"^db-[A-Z0-9]{10,32}$"
BUCKET_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
TABLE_NAME_PATTERN: Final = r"^[a-zA-Z0-9_.-]{3,255}$"
# https://sqs.<region>.amazonaws.com/<account>/<name>: the URL is the provider's external name of a queue
QUEUE_URL_PATTERN: Final = r"^https://sqs\.[a-z0-9-]+\.amazonaws\.com/[0-9]{12}/[a-zA-Z0-9_-]{1,80}$"
FUNCTION_NAME_PATTERN: Final = r"^[a-zA-Z0-9_-]{1,64}$"
ESM_UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ALB_ARN_PATTERN: Final = (r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/"
                          r"[a-zA-Z0-9-]{1,32}/[0-9a-f]{16}$")
LISTENER_ARN_PATTERN: Final = (r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/"
                               r"[a-zA-Z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}$")
ECS_NAME_PATTERN: Final = r"^[a-zA-Z0-9_-]{1,255}$"
TOPIC_ARN_PATTERN: Final = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[a-zA-Z0-9_-]{1,256}$"
PARAMETER_PATH_PATTERN: Final = r"^(/[a-zA-Z0-9_.-]+)+/$"


class _Adopted(_Model):
    # Observe: the provider reads the resource and changes nothing; Manage: full management except Delete (unless
    # adopt.deletion is Delete). Promotion is explicit, per component.
    mode: AdoptMode = "Observe"


class AdoptedVpc(_Adopted):
    """The VPC and the network parts the estate already has: all of them, so no second IGW, NAT or default route is
    made inside a VPC that has its own (the three lists are in zone order a, b, c)."""

    id: str = Field(pattern=VPC_ID_PATTERN)
    public_subnet_ids: list[Annotated[str, Field(pattern=SUBNET_ID_PATTERN)]] = Field(min_length=3, max_length=3)
    private_subnet_ids: list[Annotated[str, Field(pattern=SUBNET_ID_PATTERN)]] = Field(min_length=3, max_length=3)
    public_route_table_id: str = Field(pattern=ROUTE_TABLE_ID_PATTERN)
    private_route_table_ids: list[Annotated[str, Field(pattern=ROUTE_TABLE_ID_PATTERN)]] = Field(
        min_length=3, max_length=3)
    internet_gateway_id: str = Field(pattern=INTERNET_GATEWAY_ID_PATTERN)
    nat_gateway_ids: list[Annotated[str, Field(pattern=NAT_GATEWAY_ID_PATTERN)]] = Field(min_length=3, max_length=3)


class AdoptedKey(_Adopted):
    arn: str = Field(pattern=KMS_KEY_ARN_PATTERN)


class AdoptedDatabase(_Adopted):
    # RDS instances are known to the provider by their DbiResourceId (external name), to people by the identifier.
    identifier: str = Field(pattern=DB_IDENTIFIER_PATTERN)
    resource_id: str = Field(pattern=DB_RESOURCE_ID_PATTERN)


class AdoptedBucket(_Adopted):
    name: str = Field(pattern=BUCKET_NAME_PATTERN)


class AdoptedTable(_Adopted):
    name: str = Field(pattern=TABLE_NAME_PATTERN)


class AdoptedQueues(_Adopted):
    """The payments queue and its dead-letter queue, by URL (what the provider knows a queue by)."""

    queue_url: str = Field(pattern=QUEUE_URL_PATTERN)
    dead_letter_queue_url: str = Field(pattern=QUEUE_URL_PATTERN)

    @property
    def queue_name(self) -> str:
        return self.queue_url.rsplit("/", 1)[1]

    @property
    def dead_letter_queue_name(self) -> str:
        return self.dead_letter_queue_url.rsplit("/", 1)[1]


class AdoptedFunction(_Adopted):
    """The payments processor. Its trigger from the queue (an event source mapping, known by its UUID) is adopted
    with it when given; without it no second mapping is made while the function is observed."""

    name: str = Field(pattern=FUNCTION_NAME_PATTERN)
    event_source_mapping_uuid: str | None = Field(default=None, pattern=ESM_UUID_PATTERN)


class AdoptedLoadBalancer(_Adopted):
    """The ALB by ARN, and its listeners by ARN when it has them (a second listener on a port is refused)."""

    arn: str = Field(pattern=ALB_ARN_PATTERN)
    https_listener_arn: str | None = Field(default=None, pattern=LISTENER_ARN_PATTERN)
    http_listener_arn: str | None = Field(default=None, pattern=LISTENER_ARN_PATTERN)

    @property
    def name(self) -> str:
        """loadbalancer/app/<name>/<id>: the name AWS gave it (ForceNew, so Manage must keep it)."""
        return self.arn.split("/")[-2]


class AdoptedEcs(_Adopted):
    cluster_name: str = Field(pattern=ECS_NAME_PATTERN)
    service_name: str | None = Field(default=None, pattern=ECS_NAME_PATTERN)


class AdoptedTopic(_Adopted):
    arn: str = Field(pattern=TOPIC_ARN_PATTERN)

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[1]


class AdoptedParameters(_Adopted):
    """The Parameter Store path the region's payments configuration lives under (ends in /)."""

    path: str = Field(pattern=PARAMETER_PATH_PATTERN, max_length=900)


class AdoptSpec(_Model):
    """Existing AWS resources of one region taken over instead of created (docs/migration.md)."""

    deletion: Literal["Orphan", "Delete"] = "Orphan"
    vpc: AdoptedVpc | None = None
    kms_key: AdoptedKey | None = None
    database: AdoptedDatabase | None = None
    uploads_bucket: AdoptedBucket | None = None
    sessions_table: AdoptedTable | None = None
    ledger_table: AdoptedTable | None = None
    queues: AdoptedQueues | None = None
    payments_function: AdoptedFunction | None = None
    load_balancer: AdoptedLoadBalancer | None = None
    ecs: AdoptedEcs | None = None
    alarm_topic: AdoptedTopic | None = None
    parameters: AdoptedParameters | None = None


class RegionSpec(_Model):
    name: str
    primary: bool = False
    # A region newer than aws_facts.AWS_REGIONS: the user vouches that it exists (a typo must not render an estate)
    allow_unlisted_region: bool = False
    vpc_cidr: str
    availability_zones: list[str] | None = Field(default=None, min_length=3, max_length=3)
    waf_blocked_countries: list[str] | None = None
    alarm_thresholds: AlarmThresholds | None = None
    database: DatabaseSettings | None = None
    lambda_: LambdaSettings | None = Field(default=None, alias="lambda")
    fargate: FargateSettings | None = None
    payments_api_endpoint: str | None = Field(default=None, pattern=r"^https://[^\s]+$")
    # ACM certificates are regional: each region's HTTPS listener needs a certificate of its own region.
    certificate_arn: str | None = Field(default=None, pattern=CERTIFICATE_ARN_PATTERN)
    adopt: AdoptSpec | None = None


class DatabaseSpec(_Model):
    engine_version: str = Field(default="16", pattern=r"^[0-9]+(\.[0-9]+)?$")
    cross_region_replica: bool = True
    # Whether deleting an instance also deletes its automated backups (off: they outlive it for their retention).
    delete_automated_backups: bool = False


class PaymentsSpec(_Model):
    active_region: str | None = None
    # Lambda tracingConfig.mode; Active grants the function's role the two X-Ray write actions it needs.
    tracing: Literal["Active", "PassThrough"] = "Active"


# The default image meets the task contract the service builder renders (non-root, read-only root filesystem with
# only /tmp writable, no capabilities, port 8080): NGINX's unprivileged build listens on 8080 and keeps its pid
# and temp files in /tmp. It serves "/" (its index page) and nothing at /healthz, hence the default health check
# path. A real service image sets its own image and health check path (docs/aws-semantics.md).
DEFAULT_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.27"
DEFAULT_HEALTH_CHECK_PATH = "/"


class FailoverSpec(_Model):
    """An explicit database failover (docs/aws-semantics.md, "Replacement, failover and region identity"): the read
    replica in `to_region` is promoted, payments move there, replication into it stops. `from_region` (the primary
    when the failover was declared) stays the anchor of the topology: peering hub, S3 replication source, home of
    the global tables, so nothing else is rewritten."""

    from_region: str
    to_region: str


class ServiceSpec(_Model):
    image: str = Field(default=DEFAULT_IMAGE, min_length=1)
    container_port: int = Field(default=8080, ge=1, le=65535)
    health_check_path: str = Field(default=DEFAULT_HEALTH_CHECK_PATH, pattern=r"^/")


class EdgeSpec(_Model):
    # Used by every region that has no spec.regions[].certificateArn; it must then be in each such region.
    certificate_arn: str | None = Field(default=None, pattern=CERTIFICATE_ARN_PATTERN)


class UploadsSpec(_Model):
    noncurrent_version_expiration_days: int = Field(default=90, ge=1)
    transition_to_infrequent_access_days: int = Field(default=30, ge=30)


class RegionalDeploymentSpec(_Model):
    environment: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    environment_suffix: str
    # The account every region lives in: key policies and exact IAM resource ARNs need it (least privilege).
    aws_account_id: str = Field(pattern=r"^[0-9]{12}$")
    cost_center: str = Field(min_length=1, max_length=128)
    provider_config_ref: ProviderConfigRef = ProviderConfigRef()
    lifecycle: Literal["Delete", "Retain"] = "Delete"
    regions: list[RegionSpec] = Field(min_length=1, max_length=10)  # the CRD's maxItems (bounds CEL cost)
    database: DatabaseSpec = DatabaseSpec()
    payments: PaymentsSpec = PaymentsSpec()
    failover: FailoverSpec | None = None
    service: ServiceSpec = ServiceSpec()
    edge: EdgeSpec = EdgeSpec()
    uploads: UploadsSpec = UploadsSpec()

    @property
    def primary(self) -> RegionSpec:
        return next(r for r in self.regions if r.primary)

    @property
    def secondaries(self) -> list[RegionSpec]:
        return [r for r in self.regions if not r.primary]

    @property
    def hub(self) -> str:
        """The region the topology is anchored in: the primary, or after a failover the old primary (moving the
        hub would replace every peering connection, the global tables' home and the replication role)."""
        return self.failover.from_region if self.failover else self.primary.name

    @property
    def is_production(self) -> bool:
        return self.environment in PRODUCTION_ENVIRONMENTS

    @property
    def active_payments_region(self) -> str:
        """payments.activeRegion, else the failover's target, else the primary."""
        if self.payments.active_region:
            return self.payments.active_region
        return self.failover.to_region if self.failover else self.primary.name


@dataclass(frozen=True)
class Deployment:
    """One RegionalDeployment as the render wing sees it: where it lives and its parsed spec. Made once at the edge
    (the CLI per document, the operator per reconcile pass, by parse_deployment); nothing past the edge reads the
    raw object's spec again."""

    namespace: str
    name: str
    spec: RegionalDeploymentSpec


def parse_deployment(cr: Mapping[str, Any]) -> Deployment:
    """The typed model of a RegionalDeployment object (apiVersion/kind/metadata/spec), or a SpecValidationError
    naming the first field that breaks a rule."""
    meta = cr.get("metadata") or {}
    if len(str(meta.get("name") or "")) > MAX_CR_NAME:
        raise SpecValidationError("metadata.name", f"must be at most {MAX_CR_NAME} characters")
    return Deployment(namespace=str(meta.get("namespace") or "default"), name=str(meta.get("name") or ""),
                      spec=parse_spec(cr.get("spec")))


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_spec(raw: Any) -> RegionalDeploymentSpec:
    """Parse and check a raw `spec` mapping; the first problem becomes a SpecValidationError naming its field."""
    if not isinstance(raw, dict):
        raise SpecValidationError("spec", "must be an object")
    try:
        spec = RegionalDeploymentSpec.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise SpecValidationError(_field_path(tuple(first["loc"])), first["msg"]) from None
    check_spec(spec)
    return spec

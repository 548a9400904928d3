"""Validation in one place: every cross-field rule the typed model's per-field validators cannot state.

Per-field rules (types, patterns, ranges) are the pydantic validators of `spec.py`, mirroring the CRD schema.
What needs several fields, several regions or the region defaults is here: primary and duplicate regions, zones,
countries, Fargate sizes, certificate regions, failover, production HTTPS (`check_spec`, on the spec alone); the
merged region settings (`check_settings`, spec + defaults); the VPC CIDR and its carving, and what must differ
between regions (`vpc_network`, `check_disjoint_cidrs`, `check_unique_numbers`). Name limits are the Namer's
(`naming.py`), which checks every name as it makes it. The CRD states in CEL what an API server can check; these
re-check it for the offline CLI and add what CEL cannot (CIDR arithmetic, the defaults file).

Every rule raises a SpecValidationError naming the field and the rule: the reconciler turns it into a Stalled
condition, the CLI into a non-zero exit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

from .aws_facts import (
    AWS_REGIONS,
    CLOUDWATCH_LOG_RETENTION_DAYS,
    FARGATE_SIZES,
    ISO_3166_ALPHA2,
    PCI_LOG_RETENTION_DAYS,
    postgres_max_connections,
)
from .errors import SpecValidationError
from .naming import REGION_PATTERN
from .thresholds import RDS_CONNECTIONS, RDS_CONNECTIONS_PERCENT_OF_MAX, THRESHOLD_KEYS

if TYPE_CHECKING:
    from .defaults import RegionSettings
    from .spec import AdoptSpec, RegionalDeploymentSpec, RegionSpec

RFC1918: Final = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# The VPC is carved into 8 equal blocks (3 public, 3 private, 2 spare): /16../24 leaves subnets AWS accepts
# (/19../27; a subnet may be /16 to /28).
MIN_VPC_PREFIX: Final = 16
MAX_VPC_PREFIX: Final = 24
PRODUCTION_NEEDS_CERTIFICATE: Final = ("is required when spec.environment is prod or production: the payments ALB "
                                       "must serve HTTPS (PCI DSS 4.2.1)")


class PlacedRegion(Protocol):
    """What the cross-region rules read of a region once its CIDR is parsed and its number assigned."""

    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def vpc_cidr(self) -> ipaddress.IPv4Network: ...
    @property
    def number(self) -> int: ...


def check_spec(spec: RegionalDeploymentSpec) -> None:
    """Cross-field rules on the spec alone (the CRD also states them in CEL; kept here for the offline CLI)."""
    primaries = [i for i, r in enumerate(spec.regions) if r.primary]
    if len(primaries) != 1:
        raise SpecValidationError("spec.regions", f"exactly one region must be primary (found {len(primaries)})")
    seen: set[str] = set()
    for i, region in enumerate(spec.regions):
        if not REGION_PATTERN.match(region.name):
            raise SpecValidationError(f"spec.regions[{i}].name", f"{region.name!r} is not an AWS region name")
        if region.name in seen:
            raise SpecValidationError(f"spec.regions[{i}].name", f"duplicate region {region.name!r}")
        if region.name not in AWS_REGIONS and not region.allow_unlisted_region:
            raise SpecValidationError(
                f"spec.regions[{i}].name",
                f"{region.name!r} is not an AWS region this operator knows (aws_facts.AWS_REGIONS); for a region "
                "newer than the table set allowUnlistedRegion: true on it",
            )
        seen.add(region.name)
        for j, code in enumerate(region.waf_blocked_countries or []):
            if code not in ISO_3166_ALPHA2:
                raise SpecValidationError(
                    f"spec.regions[{i}].wafBlockedCountries[{j}]", f"{code!r} is not an ISO 3166-1 alpha-2 code"
                )
        for j, zone in enumerate(region.availability_zones or []):
            if not zone.startswith(region.name) or len(zone) != len(region.name) + 1:
                raise SpecValidationError(
                    f"spec.regions[{i}].availabilityZones[{j}]", f"{zone!r} is not a zone of {region.name}"
                )
        fargate = region.fargate
        if fargate and fargate.cpu is not None:
            if fargate.cpu not in FARGATE_SIZES:
                raise SpecValidationError(f"spec.regions[{i}].fargate.cpu", f"{fargate.cpu} is not a Fargate cpu size")
            if fargate.memory is not None and fargate.memory not in FARGATE_SIZES[fargate.cpu]:
                raise SpecValidationError(
                    f"spec.regions[{i}].fargate.memory",
                    f"{fargate.memory} MiB is not valid with {fargate.cpu} cpu units",
                )
        _check_certificate_region(spec, i, region)
        _check_adopt(spec, i, region)
    _check_adopted_unique(spec)
    if spec.payments.active_region is not None and spec.payments.active_region not in seen:
        raise SpecValidationError("spec.payments.activeRegion", "must name one of spec.regions[].name")
    _check_failover(spec, seen)


def _check_failover(spec: RegionalDeploymentSpec, regions: set[str]) -> None:
    """The rules on spec.failover that need no old object (the CRD also states them in CEL; the transition rules,
    e.g. "fromRegion was the primary", only the API server can check)."""
    failover = spec.failover
    if failover is None:
        return
    for field, value in (("fromRegion", failover.from_region), ("toRegion", failover.to_region)):
        if value not in regions:
            raise SpecValidationError(f"spec.failover.{field}", f"{value!r} must name one of spec.regions[].name")
    if failover.from_region == failover.to_region:
        raise SpecValidationError("spec.failover.toRegion", "must differ from fromRegion")
    if spec.primary.name not in (failover.from_region, failover.to_region):
        raise SpecValidationError("spec.failover", "the primary must be fromRegion (before) or toRegion (after)")
    if not spec.database.cross_region_replica:
        raise SpecValidationError("spec.failover", "needs spec.database.crossRegionReplica: true (a read replica "
                                  "in toRegion to promote)")


def _check_adopt(spec: RegionalDeploymentSpec, index: int, region: RegionSpec) -> None:
    """The adopt rules the CRD states in CEL: list items well-formed, ARNs of this region and account, the global
    tables adopted only where they live (the primary)."""
    adopt = region.adopt
    if adopt is None:
        return
    at = f"spec.regions[{index}].adopt"
    if adopt.database is not None and "--" in adopt.database.identifier:
        raise SpecValidationError(f"{at}.database.identifier", "an RDS identifier has no two consecutive hyphens")
    for field, arn, why in _adopted_arns(adopt):
        if certificate_region(arn) != region.name:
            raise SpecValidationError(f"{at}.{field}", f"{arn} is in region {certificate_region(arn)}, not "
                                      f"{region.name}: {why}")
        if arn.split(":")[4] != spec.aws_account_id:
            raise SpecValidationError(f"{at}.{field}", f"{arn} is not in account {spec.aws_account_id} "
                                      "(spec.awsAccountId)")
    if adopt.queues is not None:
        for field, url in (("queues.queueUrl", adopt.queues.queue_url),
                           ("queues.deadLetterQueueUrl", adopt.queues.dead_letter_queue_url)):
            if not url.startswith(f"https://sqs.{region.name}.amazonaws.com/{spec.aws_account_id}/"):
                raise SpecValidationError(f"{at}.{field}", f"{url} must be a queue of this region and account "
                                          f"(https://sqs.{region.name}.amazonaws.com/{spec.aws_account_id}/<name>)")
        if adopt.queues.queue_url == adopt.queues.dead_letter_queue_url:
            raise SpecValidationError(f"{at}.queues.deadLetterQueueUrl", "must differ from queueUrl (a queue cannot "
                                      "be its own dead-letter queue)")
    lb = adopt.load_balancer
    if lb is not None:
        prefix = lb.arn.replace(":loadbalancer/", ":listener/", 1) + "/"
        for field, listener in (("httpsListenerArn", lb.https_listener_arn), ("httpListenerArn", lb.http_listener_arn)):
            if listener is not None and not listener.startswith(prefix):
                raise SpecValidationError(f"{at}.loadBalancer.{field}", f"{listener} is not a listener of "
                                          f"{lb.arn} (its ARN starts {prefix})")
    if (adopt.sessions_table or adopt.ledger_table) and not region.primary:
        raise SpecValidationError(f"{at}", "sessionsTable and ledgerTable can be adopted only on the primary region "
                                  "(the global tables live there; the other regions hold replicas)")


def _adopted_arns(adopt: AdoptSpec) -> list[tuple[str, str, str]]:
    """(field under adopt, ARN, why it must be of the adopting region) of every adopted ARN."""
    out = []
    if adopt.kms_key is not None:
        out.append(("kmsKey.arn", adopt.kms_key.arn, "a KMS key is used only in its own region"))
    belongs = "an adopted resource belongs to the region that adopts it"
    if adopt.load_balancer is not None:
        out.append(("loadBalancer.arn", adopt.load_balancer.arn, belongs))
    if adopt.alarm_topic is not None:
        out.append(("alarmTopic.arn", adopt.alarm_topic.arn, belongs))
    return out


def adopted_identifiers(region: RegionSpec) -> list[tuple[str, str]]:
    """(field under adopt, identifier) of everything a region adopts, for the one-region-per-identifier rule."""
    adopt = region.adopt
    if adopt is None:
        return []
    out: list[tuple[str, str]] = []
    if adopt.vpc:
        out.append(("vpc.id", adopt.vpc.id))
    if adopt.kms_key:
        out.append(("kmsKey.arn", adopt.kms_key.arn))
    if adopt.database:
        out.append(("database.resourceId", adopt.database.resource_id))
    if adopt.uploads_bucket:
        out.append(("uploadsBucket.name", adopt.uploads_bucket.name))
    # Queues, functions, load balancers, ECS clusters, topics and parameters are regional: the same name in two
    # regions is two resources, and the URL/ARN rules above already tie each to the region that adopts it.
    return out


def _check_adopted_unique(spec: RegionalDeploymentSpec) -> None:
    """At most one region adopts a given identifier: two MRs observing one resource would fight over it."""
    seen: dict[tuple[str, str], int] = {}
    for i, region in enumerate(spec.regions):
        for field, value in adopted_identifiers(region):
            if (field, value) in seen:
                raise SpecValidationError(f"spec.regions[{i}].adopt.{field}",
                                          f"{value} is already adopted by spec.regions[{seen[(field, value)]}]")
            seen[(field, value)] = i


def certificate_region(arn: str) -> str:
    """The region field of an ARN (arn:partition:service:region:account:resource), "" when it has none."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else ""


def _check_certificate_region(spec: RegionalDeploymentSpec, index: int, region: RegionSpec) -> None:
    """An ALB can only use an ACM certificate of its own region (ACM User Guide, "Supported Regions": certificates
    are regional); a certificate of another region makes that region's HTTPS listener fail to create."""
    own = region.certificate_arn
    arn = own or spec.edge.certificate_arn
    if arn is None or certificate_region(arn) == region.name:
        return
    field = f"spec.regions[{index}].certificateArn" if own else "spec.edge.certificateArn"
    raise SpecValidationError(
        field, f"certificate {arn} is in region {certificate_region(arn) or '(none)'}, but is used in {region.name}: "
               f"ACM certificates are regional, give spec.regions[{index}].certificateArn a certificate of "
               f"{region.name}")


def check_production(spec: RegionalDeploymentSpec) -> None:
    """Production serves HTTPS only in every region (the CRD's CEL rule on spec, for the offline CLI). Checked
    after every per-field rule, so a spec with a malformed field is refused for that field first."""
    if not spec.is_production or spec.edge.certificate_arn is not None:
        return
    missing = [index for index, region in enumerate(spec.regions) if region.certificate_arn is None]
    if len(missing) == len(spec.regions):  # no certificate anywhere
        raise SpecValidationError("spec.edge.certificateArn", PRODUCTION_NEEDS_CERTIFICATE)
    if missing:
        raise SpecValidationError(f"spec.regions[{missing[0]}].certificateArn",
                                  "(or spec.edge.certificateArn) " + PRODUCTION_NEEDS_CERTIFICATE)


def check_settings(settings: RegionSettings, region: str) -> None:
    """Rules on the merged values: a CR can pass CEL yet combine badly with the defaults (e.g. cpu from one layer,
    memory from another)."""
    at = f"spec.regions[{settings.index}]"
    if settings.fargate_cpu not in FARGATE_SIZES or settings.fargate_memory not in FARGATE_SIZES[settings.fargate_cpu]:
        raise SpecValidationError(
            f"{at}.fargate",
            f"cpu {settings.fargate_cpu} with memory {settings.fargate_memory} MiB is not a Fargate size",
        )
    if len(settings.availability_zones) != 3 or len(set(settings.availability_zones)) != 3:
        raise SpecValidationError(f"{at}.availabilityZones", "exactly 3 distinct zones are required")
    for zone in settings.availability_zones:
        if not zone.startswith(region):
            raise SpecValidationError(f"{at}.availabilityZones", f"{zone!r} is not a zone of {region}")
    for key, days in (("logRetentionDays", settings.log_retention_days),
                      ("productionLogRetentionDays", settings.production_log_retention_days)):
        if days not in CLOUDWATCH_LOG_RETENTION_DAYS:
            raise SpecValidationError(f"{at}.{key}", f"{days} is not a CloudWatch Logs retention period")
    if settings.production_log_retention_days < PCI_LOG_RETENTION_DAYS:
        raise SpecValidationError(f"{at}.productionLogRetentionDays",
                                  f"must be at least {PCI_LOG_RETENTION_DAYS} days (PCI DSS 10.5.1: 12 months)")
    for code in settings.waf_blocked_countries:
        if code not in ISO_3166_ALPHA2:
            raise SpecValidationError(f"{at}.wafBlockedCountries", f"{code!r} is not an ISO 3166-1 alpha-2 code")
    for key in THRESHOLD_KEYS:
        if key not in settings.thresholds:
            raise SpecValidationError(f"{at}.alarmThresholds.{key}", "no value in the CR or the region defaults")
        if settings.thresholds[key] <= 0:
            raise SpecValidationError(f"{at}.alarmThresholds.{key}", "must be positive")
    if settings.thresholds[RDS_CONNECTIONS_PERCENT_OF_MAX] > 100:
        raise SpecValidationError(f"{at}.alarmThresholds.rdsConnectionsPercentOfMax", "must be at most 100")
    if RDS_CONNECTIONS in settings.thresholds and settings.thresholds[RDS_CONNECTIONS] <= 0:
        raise SpecValidationError(f"{at}.alarmThresholds.rdsConnections", "must be positive")
    if "rdsConnections" not in settings.thresholds and postgres_max_connections(settings.db_instance_class) is None:
        raise SpecValidationError(
            f"{at}.alarmThresholds.rdsConnections",
            f"the connection limit of {settings.db_instance_class} is not known to the operator: give the "
            "DatabaseConnections threshold as a number")
    if not settings.payments_api_endpoint.startswith("https://"):
        raise SpecValidationError(f"{at}.paymentsApiEndpoint", "must be an https:// URL")


def vpc_network(cidr: str, index: int) -> ipaddress.IPv4Network:
    """The region's VPC CIDR, parsed and checked: a network address, /16 to /24 (to carve 6 subnets), private."""
    at = f"spec.regions[{index}].vpcCidr"
    try:
        network = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError as err:
        raise SpecValidationError(at, f"{cidr!r} is not a valid IPv4 CIDR ({err})") from None
    if not MIN_VPC_PREFIX <= network.prefixlen <= MAX_VPC_PREFIX:
        raise SpecValidationError(at, f"prefix /{network.prefixlen} must be between /16 and /24 to carve 6 subnets")
    if not any(network.subnet_of(block) for block in RFC1918):
        raise SpecValidationError(at, f"{cidr} is not inside an RFC 1918 range (10/8, 172.16/12, 192.168/16)")
    return network


def check_disjoint_cidrs(regions: Sequence[PlacedRegion]) -> None:
    """VPC peering needs disjoint address space; CEL cannot compare CIDRs across list items, so we do."""
    for i, a in enumerate(regions):
        for b in regions[:i]:
            if a.vpc_cidr.overlaps(b.vpc_cidr):
                raise SpecValidationError(
                    f"spec.regions[{a.index}].vpcCidr",
                    f"{a.vpc_cidr} overlaps {b.vpc_cidr} of spec.regions[{b.index}] ({b.name}); peered VPCs need "
                    "disjoint CIDRs",
                )


def check_unique_numbers(regions: Sequence[PlacedRegion]) -> None:
    """Two regions with one number would get the same NACL rule number or replication priority. Only a region
    outside aws_facts.AWS_REGIONS (hashed) can collide; the fix is to ask for the region to be added to the table."""
    for i, a in enumerate(regions):
        for b in regions[:i]:
            if a.number == b.number:
                raise SpecValidationError(
                    f"spec.regions[{a.index}].name",
                    f"{a.name} hashes to region number {a.number}, already used by {b.name}; add {a.name} to "
                    "aws_facts.AWS_REGIONS with a number of its own",
                )

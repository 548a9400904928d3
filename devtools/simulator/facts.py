"""TEST-ONLY: what the simulated provider reports for each kind - plausible `status.atProvider` values, the
external name it records, and the `spec.forProvider` fields it late-initializes. Never shipped.

Everything is a pure function of (kind, region, name, spec), so the same MR always gets the same ids across
simulator restarts. Only attributes that exist in the kind's provider CRD status schema are produced;
``tests/cluster/test_simulator.py`` checks every kind's output against the CRD files in ``../shared/crossplane``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from regional_operator.render.kinds import KINDS, Kind

EXTERNAL_NAME: Final = "crossplane.io/external-name"
DEFAULT_REGION: Final = "us-east-1"

# Kinds whose external name AWS assigns (ids, UUIDs, ARNs, the queue URL) or the provider builds from spec
# fields: the provider writes that identity after creation and a value set before would mean "import this
# resource" (provider-external-names-v2.6.0.tsv, set_before_create "only to import" / "not needed";
# tests/unit/render/test_provider_contract.py keeps this set equal to the table). All other kinds are identified by
# name (external name = the pinned annotation, else forProvider.name, else metadata.name).
PROVIDER_ASSIGNED: Final = frozenset({
    "ec2/VPC", "ec2/Subnet", "ec2/InternetGateway", "ec2/EIP", "ec2/NATGateway", "ec2/RouteTable", "ec2/Route",
    "ec2/RouteTableAssociation", "ec2/NetworkACL", "ec2/NetworkACLRule", "ec2/SecurityGroup",
    "ec2/SecurityGroupIngressRule", "ec2/SecurityGroupEgressRule", "ec2/VPCPeeringConnection",
    "ec2/VPCPeeringConnectionAccepter", "kms/Key", "rds/Instance", "lambda/EventSourceMapping",
    "servicediscovery/PrivateDNSNamespace", "servicediscovery/Service", "elbv2/LB", "elbv2/LBTargetGroup",
    "elbv2/LBListener", "wafv2/WebACL", "sqs/Queue", "sqs/QueuePolicy", "ecs/TaskDefinition",
    "s3/BucketVersioning", "s3/BucketServerSideEncryptionConfiguration", "s3/BucketLifecycleConfiguration",
    "s3/BucketPublicAccessBlock", "s3/BucketPolicy", "s3/BucketReplicationConfiguration", "s3/Object",
    "sns/TopicPolicy", "wafv2/WebACLAssociation", "ec2/VPCEndpoint", "ec2/VPCEndpointRouteTableAssociation",
    "ec2/FlowLog", "wafv2/WebACLLoggingConfiguration",
})

# Region name word -> the letters AWS uses in AZ ids (use1-az1, apse2-az3, ...).
_AZ_WORDS: Final = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "southeast": "se",
                    "northeast": "ne", "northwest": "nw", "southwest": "sw"}


@dataclass(frozen=True)
class Subject:
    """One MR as the simulated provider sees it."""

    kind: Kind
    name: str
    region: str
    account: str
    for_provider: Mapping[str, Any]
    external_name: str | None = None

    @classmethod
    def of(cls, kind: Kind, obj: Mapping[str, Any], account: str) -> Subject:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        for_provider = spec.get("forProvider") or {}
        labels = meta.get("labels") or {}
        region = for_provider.get("region") or labels.get("platform.regional.io/region") or DEFAULT_REGION
        external = (meta.get("annotations") or {}).get(EXTERNAL_NAME) or None
        return cls(kind, str(meta.get("name", "")), str(region), account, for_provider, external)

    def hex(self, n: int = 17, salt: str = "") -> str:
        """Deterministic lowercase hex from kind, region and name (plus an optional salt)."""
        seed = f"{self.kind.key}/{self.region}/{self.name}/{salt}".encode()
        return hashlib.sha256(seed).hexdigest()[:n]

    def upper(self, n: int, salt: str = "") -> str:
        """Deterministic uppercase alphanumerics (for RDS resource ids, hosted zones, IAM unique ids)."""
        digest = hashlib.sha256(f"{self.kind.key}/{self.region}/{self.name}/{salt}".encode()).digest()
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return "".join(alphabet[b % 32] for b in digest)[:n]

    def uuid(self, salt: str = "") -> str:
        return str(uuid.UUID(hex=self.hex(32, salt), version=4))

    def string(self, field: str) -> str | None:
        value = self.for_provider.get(field)
        return value if isinstance(value, str) and value else None

    @property
    def aws_name(self) -> str:
        """The AWS-side name: forProvider.name, else a user-pinned external name, else metadata.name."""
        pinned = self.external_name if self.kind.key not in PROVIDER_ASSIGNED else None
        if pinned and self.kind.key == "kms/Alias":
            pinned = pinned.removeprefix("alias/")
        return self.string("name") or pinned or self.name

    def arn(self, resource: str, *, service: str | None = None, region: bool = True, account: bool = True) -> str:
        return (f"arn:aws:{service or self.kind.service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{resource}")


def availability_zone_id(zone: str) -> str:
    """us-east-1a -> use1-az1, ap-southeast-2c -> apse2-az3 (the naming scheme AWS uses; numbers are fake)."""
    letter = zone[-1] if zone and zone[-1].isalpha() else "a"
    region = zone[:-1] if zone and zone[-1].isalpha() else zone
    parts = region.split("-")
    code = parts[0] + _AZ_WORDS.get(parts[1], parts[1][:1]) + parts[2] if len(parts) == 3 else region.replace("-", "")
    return f"{code}-az{ord(letter) - ord('a') + 1}"


# --------------------------------------------------------------------------------------------- identities


def _ec2_id(prefix: str) -> Callable[[Subject], str]:
    return lambda s: f"{prefix}-{s.hex()}"


def _elb_arn(s: Subject) -> str:
    if s.kind.kind == "LB":
        short = {"network": "net", "gateway": "gwy"}.get(s.string("loadBalancerType") or "", "app")
        return s.arn(f"loadbalancer/{short}/{s.aws_name}/{s.hex(16)}", service="elasticloadbalancing")
    if s.kind.kind == "LBTargetGroup":
        return s.arn(f"targetgroup/{s.aws_name}/{s.hex(16)}", service="elasticloadbalancing")
    lb = s.string("loadBalancerArn")
    lb_part = lb.split(":loadbalancer/", 1)[1] if lb and ":loadbalancer/" in lb else f"app/{s.name}/{s.hex(16, 'lb')}"
    return s.arn(f"listener/{lb_part}/{s.hex(16)}", service="elasticloadbalancing")


def _peering_id(s: Subject) -> str:
    return s.string("vpcPeeringConnectionId") or f"pcx-{s.hex()}"


def queue_url(region: str, account: str, name: str) -> str:
    """The SQS queue URL, the queue's identity (and the provider's external name)."""
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def _bucket_of(s: Subject) -> str:
    return s.string("bucket") or s.name


# Provider-assigned identities (for the other kinds the identity is the AWS name).
_IDENTITY: Final[dict[str, Callable[[Subject], str]]] = {
    "ec2/VPC": _ec2_id("vpc"),
    "ec2/Subnet": _ec2_id("subnet"),
    "ec2/InternetGateway": _ec2_id("igw"),
    "ec2/EIP": _ec2_id("eipalloc"),
    "ec2/NATGateway": _ec2_id("nat"),
    "ec2/RouteTable": _ec2_id("rtb"),
    "ec2/Route": lambda s: f"r-rtb-{s.hex()}1080289494",
    "ec2/RouteTableAssociation": _ec2_id("rtbassoc"),
    "ec2/NetworkACL": _ec2_id("acl"),
    "ec2/NetworkACLRule": lambda s: f"nacl-{s.hex(10)}",
    "ec2/SecurityGroup": _ec2_id("sg"),
    "ec2/SecurityGroupIngressRule": _ec2_id("sgr"),
    "ec2/SecurityGroupEgressRule": _ec2_id("sgr"),
    "ec2/VPCPeeringConnection": _ec2_id("pcx"),
    "ec2/VPCPeeringConnectionAccepter": _peering_id,
    "kms/Key": lambda s: s.uuid(),
    "rds/Instance": lambda s: f"db-{s.upper(26)}",
    "lambda/EventSourceMapping": lambda s: s.uuid(),
    "servicediscovery/PrivateDNSNamespace": lambda s: f"ns-{s.hex(16)}",
    "servicediscovery/Service": lambda s: f"srv-{s.hex(16)}",
    "elbv2/LB": _elb_arn,
    "elbv2/LBTargetGroup": _elb_arn,
    "elbv2/LBListener": _elb_arn,
    "wafv2/WebACL": lambda s: s.uuid(),
    "sqs/Queue": lambda s: queue_url(s.region, s.account, s.string("name") or s.name),
    "sqs/QueuePolicy": lambda s: s.string("queueUrl") or queue_url(s.region, s.account, s.name),
    "ecs/TaskDefinition": lambda s: s.string("family") or s.name,
    "s3/BucketVersioning": _bucket_of,
    "s3/BucketServerSideEncryptionConfiguration": _bucket_of,
    "s3/BucketLifecycleConfiguration": _bucket_of,
    "s3/BucketPublicAccessBlock": _bucket_of,
    "s3/BucketPolicy": _bucket_of,
    "s3/BucketReplicationConfiguration": _bucket_of,
    "s3/Object": lambda s: f"{_bucket_of(s)}/{s.string('key') or s.name}",
    "sns/TopicPolicy": lambda s: s.string("arn") or s.arn(s.name, service="sns"),
    "wafv2/WebACLAssociation": lambda s: f"{s.string('webAclArn') or ''},{s.string('resourceArn') or ''}",
    "ec2/VPCEndpoint": _ec2_id("vpce"),
    "ec2/VPCEndpointRouteTableAssociation": lambda s: f"{s.string('vpcEndpointId')}/{s.string('routeTableId')}",
    "ec2/FlowLog": _ec2_id("fl"),
    "wafv2/WebACLLoggingConfiguration": lambda s: s.string("resourceArn") or s.name,
}


def identity(s: Subject) -> str:
    """The external name the provider records. Name-style kinds: a pinned one wins (an Alias's is kept without
    `alias/`, as the provider's kmsAlias() config stores it), else forProvider.name or metadata.name. Kinds whose
    identity AWS assigns: that identity, whatever was pinned before creation (the pinned value names no existing
    resource, so the provider creates one and records its real id)."""
    make = _IDENTITY.get(s.kind.key)
    if make is not None and s.kind.key in PROVIDER_ASSIGNED:
        return make(s)
    if s.kind.key == "kms/Alias":
        return s.aws_name
    if s.external_name:
        return s.external_name
    return make(s) if make else s.aws_name


def import_error(s: Subject) -> str | None:
    """The provider's Observe error for a pinned external name it cannot even parse (None otherwise): a queue's
    must be its URL, so a queue name pinned as external name fails every poll."""
    if s.kind.key == "sqs/Queue" and s.external_name and not s.external_name.startswith("https://"):
        return (f"cannot observe external resource: SQS Queue URL ({s.external_name}) is in the incorrect format: "
                "the external name of a Queue is its URL, written by the provider after creation")
    return None


# --------------------------------------------------------------------------------------------- atProvider


def _ec2_arn(path: str) -> Callable[[Subject, str], dict[str, Any]]:
    return lambda s, ident: {"id": ident, "arn": s.arn(f"{path}/{ident}"), "ownerId": s.account}


def _vpc(s: Subject, ident: str) -> dict[str, Any]:
    out = {"id": ident, "arn": s.arn(f"vpc/{ident}"), "ownerId": s.account,
           "defaultRouteTableId": f"rtb-{s.hex(salt='main')}", "mainRouteTableId": f"rtb-{s.hex(salt='main')}",
           "defaultSecurityGroupId": f"sg-{s.hex(salt='default')}", "defaultNetworkAclId": f"acl-{s.hex(salt='acl')}",
           "dhcpOptionsId": f"dopt-{s.hex(salt='dhcp')}"}
    if cidr := s.string("cidrBlock"):
        out["cidrBlock"] = cidr
    return out


def _subnet(s: Subject, ident: str) -> dict[str, Any]:
    zone = s.string("availabilityZone") or f"{s.region}a"
    out = {"id": ident, "arn": s.arn(f"subnet/{ident}"), "ownerId": s.account, "availabilityZone": zone,
           "availabilityZoneId": s.string("availabilityZoneId") or availability_zone_id(zone)}
    if cidr := s.string("cidrBlock"):
        out["cidrBlock"] = cidr
    return out


def _eip(s: Subject, ident: str) -> dict[str, Any]:
    n = int(s.hex(4), 16)
    ip = f"198.51.{100 + n % 2}.{1 + (n >> 1) % 254}"  # TEST-NET-2, never a real address
    return {"id": ident, "allocationId": ident, "arn": s.arn(f"elastic-ip/{ident}"), "domain": "vpc", "publicIp": ip,
            "publicDns": f"ec2-{ip.replace('.', '-')}.{s.region}.compute.amazonaws.com"}


def _sg_rule(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": ident, "securityGroupRuleId": ident, "arn": s.arn(f"security-group-rule/{ident}")}


def _peering(s: Subject, ident: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "acceptStatus": "active"}
    if s.kind.kind == "VPCPeeringConnectionAccepter":
        out["vpcPeeringConnectionId"] = ident
    return out


def _kms_alias(s: Subject, ident: str) -> dict[str, Any]:
    alias = f"alias/{ident.removeprefix('alias/')}"  # the Terraform ID carries the prefix, the external name not
    return {"id": alias, "arn": s.arn(alias)}


def _rds_instance(s: Subject, ident: str) -> dict[str, Any]:
    identifier = s.string("identifier") or s.name
    port = s.for_provider.get("port")
    if not isinstance(port, int | float):
        port = 3306 if "mysql" in (s.string("engine") or "") or "maria" in (s.string("engine") or "") else 5432
    address = f"{identifier}.c{s.hex(12, 'endpoint')}.{s.region}.rds.amazonaws.com"
    out = {"id": ident, "resourceId": ident, "identifier": identifier,
           "arn": s.arn(f"db:{identifier}"), "address": address, "endpoint": f"{address}:{int(port)}",
           "port": port, "hostedZoneId": f"Z{s.upper(13, 'zone')}", "status": "available"}
    # A read replica reports its source; once the field is removed from the spec the provider promotes the
    # instance (PromoteReadReplica) and AWS reports no source any more.
    if source := s.string("replicateSourceDb"):
        out["replicateSourceDb"] = source
    return out


def _table(s: Subject, ident: str) -> dict[str, Any]:
    arn = s.arn(f"table/{ident}")
    out: dict[str, Any] = {"id": ident, "arn": arn}
    if s.for_provider.get("streamEnabled") is True:
        out.update(streamArn=f"{arn}/stream/2026-01-01T00:00:00.000", streamLabel="2026-01-01T00:00:00.000")
    return out


def _bucket(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": ident, "arn": f"arn:aws:s3:::{ident}", "bucketRegion": s.region,
            "bucketDomainName": f"{ident}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{ident}.s3.{s.region}.amazonaws.com"}


def _bucket_part(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": s.string("bucket") or ident}


def _topic(s: Subject, ident: str) -> dict[str, Any]:
    arn = s.arn(ident)  # the Terraform ID is the ARN; the external name is the topic name
    return {"id": arn, "arn": arn, "owner": s.account}


def _object(s: Subject, ident: str) -> dict[str, Any]:
    bucket, key = s.string("bucket") or "bucket", s.string("key") or ident.split("/", 1)[-1]
    return {"id": key, "arn": f"arn:aws:s3:::{bucket}/{key}", "etag": s.hex(32, "etag")}


def _role(s: Subject, ident: str) -> dict[str, Any]:
    path = s.string("path") or "/"
    return {"id": ident, "arn": s.arn(f"role{path}{ident}", region=False), "uniqueId": f"AROA{s.upper(17)}",
            "createDate": "2026-01-01T00:00:00Z"}


def _role_policy(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": f"{s.string('role') or ident}:{ident}"}


def _function(s: Subject, ident: str) -> dict[str, Any]:
    arn = s.arn(f"function:{ident}")
    invoke = f"arn:aws:apigateway:{s.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return {"id": ident, "arn": arn, "qualifiedArn": f"{arn}:$LATEST", "invokeArn": invoke, "version": "$LATEST",
            "lastModified": "2026-01-01T00:00:00.000+0000"}


def _esm(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": ident, "uuid": ident, "arn": s.arn(f"event-source-mapping:{ident}"), "state": "Enabled"}


def _queue(s: Subject, ident: str) -> dict[str, Any]:
    name = s.string("name") or s.name
    url = queue_url(s.region, s.account, name)
    return {"id": url, "url": url, "arn": s.arn(name)}


def _queue_policy(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": s.string("queueUrl") or ident}


def _ssm(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": ident, "arn": s.arn(f"parameter/{ident.lstrip('/')}"), "version": 1}


def _task_definition(s: Subject, ident: str) -> dict[str, Any]:
    family = s.string("family") or ident
    base = s.arn(f"task-definition/{family}")
    return {"id": family, "arn": f"{base}:1", "arnWithoutRevision": base, "revision": 1}


def _ecs_service(s: Subject, ident: str) -> dict[str, Any]:
    cluster = (s.string("cluster") or "default").rsplit("/", 1)[-1]
    arn = s.arn(f"service/{cluster}/{ident}")
    return {"id": arn, "arn": arn}


def _dns_namespace(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": ident, "arn": s.arn(f"namespace/{ident}"), "hostedZone": f"Z{s.upper(20, 'zone')}"}


def _lb(s: Subject, ident: str) -> dict[str, Any]:
    prefix = "internal-" if s.for_provider.get("internal") is True else ""
    return {"id": ident, "arn": ident, "arnSuffix": ident.split(":loadbalancer/", 1)[-1],
            "dnsName": f"{prefix}{s.aws_name}-{int(s.hex(8, 'dns'), 16)}.{s.region}.elb.amazonaws.com",
            "zoneId": "Z35SXDOTRQ7X7K"}


def _target_group(s: Subject, ident: str) -> dict[str, Any]:
    return {"id": ident, "arn": ident, "arnSuffix": ident.split(":", 5)[-1]}


def _web_acl(s: Subject, ident: str) -> dict[str, Any]:
    scope = "global" if s.string("scope") == "CLOUDFRONT" else "regional"
    return {"id": ident, "arn": s.arn(f"{scope}/webacl/{s.aws_name}/{ident}"), "lockToken": s.uuid("lock")}


def _web_acl_association(s: Subject, ident: str) -> dict[str, Any]:
    acl, resource = s.string("webAclArn"), s.string("resourceArn")
    return {"id": f"{acl},{resource}" if acl and resource else ident}


def _topic_policy(s: Subject, ident: str) -> dict[str, Any]:
    arn = s.string("arn") or s.arn(ident, service="sns")
    return {"id": arn, "arn": arn, "owner": s.account}


_AT_PROVIDER: Final[dict[str, Callable[[Subject, str], dict[str, Any]]]] = {
    "ec2/VPC": _vpc,
    "ec2/Subnet": _subnet,
    "ec2/InternetGateway": _ec2_arn("internet-gateway"),
    "ec2/EIP": _eip,
    "ec2/NATGateway": lambda s, ident: {"id": ident},
    "ec2/RouteTable": _ec2_arn("route-table"),
    "ec2/Route": lambda s, ident: {"id": ident, "state": "active"},
    "ec2/RouteTableAssociation": lambda s, ident: {"id": ident},
    "ec2/NetworkACL": _ec2_arn("network-acl"),
    "ec2/NetworkACLRule": lambda s, ident: {"id": ident},
    "ec2/SecurityGroup": lambda s, ident: {**_ec2_arn("security-group")(s, ident), "name": s.aws_name},
    "ec2/SecurityGroupIngressRule": _sg_rule,
    "ec2/SecurityGroupEgressRule": _sg_rule,
    "ec2/VPCPeeringConnection": _peering,
    "ec2/VPCPeeringConnectionAccepter": _peering,
    "kms/Key": lambda s, ident: {"id": ident, "keyId": ident, "arn": s.arn(f"key/{ident}")},
    "kms/Alias": _kms_alias,
    "rds/SubnetGroup": lambda s, ident: {"id": ident, "arn": s.arn(f"subgrp:{ident}")},
    "rds/Instance": _rds_instance,
    "dynamodb/Table": _table,
    "s3/Bucket": _bucket,
    "s3/BucketVersioning": _bucket_part,
    "s3/BucketServerSideEncryptionConfiguration": _bucket_part,
    "s3/BucketLifecycleConfiguration": _bucket_part,
    "s3/BucketPublicAccessBlock": _bucket_part,
    "s3/BucketPolicy": _bucket_part,
    "s3/BucketReplicationConfiguration": _bucket_part,
    "s3/Object": _object,
    "iam/Role": _role,
    "iam/RolePolicy": _role_policy,
    "lambda/Function": _function,
    "lambda/EventSourceMapping": _esm,
    "sqs/Queue": _queue,
    "sqs/QueuePolicy": _queue_policy,
    "cloudwatchlogs/Group": lambda s, ident: {"id": ident, "arn": s.arn(f"log-group:{ident}", service="logs")},
    "ssm/Parameter": _ssm,
    "ecs/Cluster": lambda s, ident: {"id": s.arn(f"cluster/{ident}"), "arn": s.arn(f"cluster/{ident}")},
    "ecs/TaskDefinition": _task_definition,
    "ecs/Service": _ecs_service,
    "servicediscovery/PrivateDNSNamespace": _dns_namespace,
    "servicediscovery/Service": lambda s, ident: {"id": ident, "arn": s.arn(f"service/{ident}")},
    "elbv2/LB": _lb,
    "elbv2/LBTargetGroup": _target_group,
    "elbv2/LBListener": lambda s, ident: {"id": ident, "arn": ident},
    "wafv2/WebACL": _web_acl,
    "wafv2/WebACLAssociation": _web_acl_association,
    "sns/Topic": _topic,
    "sns/TopicPolicy": _topic_policy,
    "cloudwatch/MetricAlarm": lambda s, ident: {"id": ident, "arn": s.arn(f"alarm:{ident}")},
    "ec2/VPCEndpoint": lambda s, ident: {**_ec2_arn("vpc-endpoint")(s, ident), "prefixListId": f"pl-{s.hex(8)}",
                                         "state": "available"},
    "ec2/VPCEndpointRouteTableAssociation": lambda s, ident: {"id": ident},
    "ec2/FlowLog": lambda s, ident: {"id": ident, "arn": s.arn(f"vpc-flow-log/{ident}")},
    "rds/ParameterGroup": lambda s, ident: {"id": ident, "arn": s.arn(f"pg:{ident}")},
    "wafv2/WebACLLoggingConfiguration": lambda s, ident: {"id": ident},
}


def at_provider(s: Subject, ident: str | None = None) -> dict[str, Any]:
    """`status.atProvider` for one MR (only attributes its CRD declares; checked by a test)."""
    return _AT_PROVIDER[s.kind.key](s, ident or identity(s))


# --------------------------------------------------------------------------------------------- late-init


def _subnet_zone_id(s: Subject) -> str:
    return availability_zone_id(s.string("availabilityZone") or f"{s.region}a")


# forProvider fields the provider fills from AWS when the user left them out (as the real one late-initializes).
LATE_INIT: Final[dict[str, dict[str, Callable[[Subject], Any]]]] = {
    "ec2/VPC": {"instanceTenancy": lambda s: "default"},
    "ec2/Subnet": {"availabilityZoneId": _subnet_zone_id},
    "ec2/SecurityGroup": {"name": lambda s: s.name},
    "sqs/Queue": {"maxMessageSize": lambda s: 262144},
}


def late_init(s: Subject) -> dict[str, Any]:
    """The forProvider fields to late-initialize now (empty when all are already set)."""
    return {field: make(s) for field, make in LATE_INIT.get(s.kind.key, {}).items() if field not in s.for_provider}


def _check_tables() -> None:
    missing = set(KINDS) - set(_AT_PROVIDER)
    if missing:  # a kind added to the renderer needs a row here before the simulator can play its provider
        raise RuntimeError(f"devtools/simulator/facts.py has no atProvider rule for: {', '.join(sorted(missing))}")


_check_tables()

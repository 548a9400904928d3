"""The provider's contract, from its own source: every reference resolves, every resolved value fits the AWS
parameter it lands in, and no external name is pinned where AWS assigns the identity (issue 11).

Checked over every MR of every example, of the test specs below and of the fuzzer's valid specs, each rendered
fully observed (so the MRs that wait for provider values are checked too):

1. each Ref/Selector names an MR of the kind the provider's resolver looks up (provider-references-v2.6.0.tsv),
   rendered in the same namespace; no Ref/Selector of a kind is missing from the table;
2. the value that resolver copies (the target's external name, ``status.atProvider.id``, ``.arn``, ...) has the
   format the AWS parameter takes: FIELD_FORMATS below says, per field, what AWS accepts (reviewed like code, one
   line per field, with the AWS page); a field AWS takes as an ARN is never filled by a resolver that copies an id
   or a name. The concrete value the simulator's provider facts give for the rendered target is also matched
   against the parameter's pattern in botocore's service model where it has one (BOTOCORE_SHAPES);
3. literal values the renderer writes into those fields have the same format;
4. no MR sets ``crossplane.io/external-name`` on a kind whose identity AWS assigns
   (provider-external-names-v2.6.0.tsv: set_before_create "only to import" or "not needed").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import botocore.session
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from regional_operator.defaults import RegionDefaults, load_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.render import render
from regional_operator.render.context import EXTERNAL_NAME
from regional_operator.render.kinds import BY_API_KIND, KINDS
from regional_operator.render.observed import Observed

from devtools.simulator import facts
from devtools.simulator.references import Reference, containers, external_names, ref_names, references
from tests.unit.render.conftest import ACCOUNT_ID, TWO_REGION_CR
from tests.unit.render.test_fuzz import valid_specs
from tests.unit.render.test_golden import FAKE_ARTIFACT

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DEFAULTS: RegionDefaults = load_defaults()

# --- formats -----------------------------------------------------------------------------------------------------
# arn: an ARN. id: an AWS resource id (vpc-..., subnet-..., sg-..., ns-...). key-id: a KMS key id (UUID).
# name: the resource's name. url: an SQS queue URL.
ARN, ID, KEY_ID, NAME, URL = "arn", "id", "key-id", "name", "url"

# What AWS takes in each field a reference fills, per kind: (kind, field under forProvider) -> accepted formats.
# Reviewed like code: a new Ref in the renderer fails test_every_reference_field_has_a_format until its line is here.
FIELD_FORMATS: Final[dict[tuple[str, str], frozenset[str]]] = {
    # EC2 (API reference: every *Id parameter is the resource id)
    ("ec2/Subnet", "vpcId"): frozenset({ID}),
    # issue 13 auditor controls: flow logs, gateway endpoints, access logs, TLS parameter group, WAF logging
    ("ec2/FlowLog", "vpcId"): frozenset({ID}),
    ("ec2/FlowLog", "iamRoleArn"): frozenset({ARN}),  # CreateFlowLogs DeliverLogsPermissionArn
    ("ec2/FlowLog", "logDestination"): frozenset({ARN}),  # CreateFlowLogs LogDestination: the log group ARN
    ("ec2/VPCEndpoint", "vpcId"): frozenset({ID}),
    ("ec2/VPCEndpointRouteTableAssociation", "vpcEndpointId"): frozenset({ID}),
    ("ec2/VPCEndpointRouteTableAssociation", "routeTableId"): frozenset({ID}),
    ("elbv2/LB", "accessLogs.bucket"): frozenset({NAME}),  # access_logs.s3.bucket attribute: the bucket name
    ("rds/Instance", "parameterGroupName"): frozenset({NAME}),  # CreateDBInstance DBParameterGroupName
    ("wafv2/WebACLLoggingConfiguration", "resourceArn"): frozenset({ARN}),  # PutLoggingConfiguration ResourceArn
    ("ec2/InternetGateway", "vpcId"): frozenset({ID}),
    ("ec2/RouteTable", "vpcId"): frozenset({ID}),
    ("ec2/SecurityGroup", "vpcId"): frozenset({ID}),
    ("ec2/NetworkACL", "vpcId"): frozenset({ID}),
    ("ec2/NetworkACL", "subnetIds[]"): frozenset({ID}),
    ("ec2/NetworkACLRule", "networkAclId"): frozenset({ID}),
    ("ec2/NATGateway", "allocationId"): frozenset({ID}),
    ("ec2/NATGateway", "subnetId"): frozenset({ID}),
    ("ec2/Route", "routeTableId"): frozenset({ID}),
    ("ec2/Route", "gatewayId"): frozenset({ID}),
    ("ec2/Route", "natGatewayId"): frozenset({ID}),
    ("ec2/Route", "vpcPeeringConnectionId"): frozenset({ID}),
    ("ec2/RouteTableAssociation", "subnetId"): frozenset({ID}),
    ("ec2/RouteTableAssociation", "routeTableId"): frozenset({ID}),
    ("ec2/SecurityGroupIngressRule", "securityGroupId"): frozenset({ID}),
    ("ec2/SecurityGroupIngressRule", "referencedSecurityGroupId"): frozenset({ID}),
    ("ec2/SecurityGroupEgressRule", "securityGroupId"): frozenset({ID}),
    ("ec2/SecurityGroupEgressRule", "referencedSecurityGroupId"): frozenset({ID}),
    ("ec2/VPCPeeringConnection", "vpcId"): frozenset({ID}),
    ("ec2/VPCPeeringConnection", "peerVpcId"): frozenset({ID}),
    ("ec2/VPCPeeringConnectionAccepter", "vpcPeeringConnectionId"): frozenset({ID}),
    # KMS CreateAlias TargetKeyId: key id or key ARN
    ("kms/Alias", "targetKeyId"): frozenset({KEY_ID, ARN}),
    # RDS CreateDBInstance: KmsKeyId for a cross-region replica must be an ARN ("...in the destination Region";
    # the provider's kms_key_id schema says ARN); MasterUserSecretKmsKeyId: key id, ARN, alias
    ("rds/Instance", "kmsKeyId"): frozenset({ARN}),
    ("rds/Instance", "masterUserSecretKmsKeyId"): frozenset({KEY_ID, ARN}),
    ("rds/Instance", "dbSubnetGroupName"): frozenset({NAME}),
    ("rds/Instance", "vpcSecurityGroupIds[]"): frozenset({ID}),
    ("rds/Instance", "replicateSourceDb"): frozenset({ARN}),  # cross-region: the source ARN
    ("rds/SubnetGroup", "subnetIds[]"): frozenset({ID}),
    # DynamoDB SSESpecification.KMSMasterKeyId / ReplicaUpdate KMSMasterKeyId: the provider's *kms_key_arn: ARN
    ("dynamodb/Table", "serverSideEncryption.kmsKeyArn"): frozenset({ARN}),
    ("dynamodb/Table", "replica[].kmsKeyArn"): frozenset({ARN}),
    # S3: bucket parameters take the bucket name; SSE-KMS key ids are reported back as ARNs (a key id would drift)
    ("s3/BucketVersioning", "bucket"): frozenset({NAME}),
    ("s3/BucketServerSideEncryptionConfiguration", "bucket"): frozenset({NAME}),
    ("s3/BucketServerSideEncryptionConfiguration", "rule[].applyServerSideEncryptionByDefault.kmsMasterKeyId"):
        frozenset({ARN}),
    ("s3/BucketLifecycleConfiguration", "bucket"): frozenset({NAME}),
    ("s3/BucketPublicAccessBlock", "bucket"): frozenset({NAME}),
    ("s3/BucketPolicy", "bucket"): frozenset({NAME}),
    ("s3/BucketReplicationConfiguration", "bucket"): frozenset({NAME}),
    ("s3/BucketReplicationConfiguration", "role"): frozenset({ARN}),  # ReplicationConfiguration.Role: IAM role ARN
    ("s3/BucketReplicationConfiguration", "rule[].destination.bucket"): frozenset({ARN}),  # Destination.Bucket: ARN
    ("s3/BucketReplicationConfiguration", "rule[].destination.encryptionConfiguration.replicaKmsKeyId"):
        frozenset({ARN}),  # ReplicaKmsKeyID: key ARN (resolved in the destination Region)
    ("s3/Object", "bucket"): frozenset({NAME}),
    ("s3/Object", "kmsKeyId"): frozenset({ARN}),  # S3 reports SSEKMSKeyId as the key ARN
    # IAM PutRolePolicy RoleName: the role name
    ("iam/RolePolicy", "role"): frozenset({NAME}),
    # Lambda CreateFunction: KMSKeyArn and Role are ARNs; S3Bucket a name; VpcConfig ids
    ("lambda/Function", "kmsKeyArn"): frozenset({ARN}),
    ("lambda/Function", "role"): frozenset({ARN}),
    ("lambda/Function", "s3Bucket"): frozenset({NAME}),
    ("lambda/Function", "vpcConfig.subnetIds[]"): frozenset({ID}),
    ("lambda/Function", "vpcConfig.securityGroupIds[]"): frozenset({ID}),
    ("lambda/Function", "loggingConfig.logGroup"): frozenset({NAME}),
    ("lambda/EventSourceMapping", "functionName"): frozenset({NAME, ARN}),
    # SQS: every queue action takes the QueueUrl
    ("sqs/QueuePolicy", "queueUrl"): frozenset({URL}),
    # CloudWatch Logs AssociateKmsKey / CreateLogGroup kmsKeyId: "the ARN of the KMS key"
    ("cloudwatchlogs/Group", "kmsKeyId"): frozenset({ARN}),
    # ECS CreateService: cluster name or ARN, taskDefinition family[:revision] or ARN, target group ARN, ids
    ("ecs/Service", "cluster"): frozenset({NAME, ARN}),
    ("ecs/Service", "taskDefinition"): frozenset({NAME, ARN}),
    ("ecs/Service", "loadBalancer[].targetGroupArn"): frozenset({ARN}),
    ("ecs/Service", "networkConfiguration.subnets[]"): frozenset({ID}),
    ("ecs/Service", "networkConfiguration.securityGroups[]"): frozenset({ID}),
    ("ecs/TaskDefinition", "executionRoleArn"): frozenset({ARN}),
    # Cloud Map: Vpc and NamespaceId are ids
    ("servicediscovery/PrivateDNSNamespace", "vpc"): frozenset({ID}),
    ("servicediscovery/Service", "dnsConfig.namespaceId"): frozenset({ID}),
    # ELBv2: ids for subnets, security groups, VPC; ARNs for load balancers and target groups
    ("elbv2/LB", "subnets[]"): frozenset({ID}),
    ("elbv2/LB", "securityGroups[]"): frozenset({ID}),
    ("elbv2/LBTargetGroup", "vpcId"): frozenset({ID}),
    ("elbv2/LBListener", "loadBalancerArn"): frozenset({ARN}),
    ("elbv2/LBListener", "defaultAction[].targetGroupArn"): frozenset({ARN}),
    # WAFv2 AssociateWebACL: both ARNs
    ("wafv2/WebACLAssociation", "webAclArn"): frozenset({ARN}),
    ("wafv2/WebACLAssociation", "resourceArn"): frozenset({ARN}),
    # SNS SetTopicAttributes TopicArn; CloudWatch PutMetricAlarm OKActions/AlarmActions: ARNs
    ("sns/TopicPolicy", "arn"): frozenset({ARN}),
    ("cloudwatch/MetricAlarm", "okActions[]"): frozenset({ARN}),
    ("cloudwatch/MetricAlarm", "alarmActions[]"): frozenset({ARN}),
}

# botocore input shapes with a pattern or length limit, for the fields the renderer fills by reference or
# literal: (kind, field) -> (service, operation, member path). The concrete value must match.
BOTOCORE_SHAPES: Final[dict[tuple[str, str], tuple[str, str, str]]] = {
    ("lambda/Function", "kmsKeyArn"): ("lambda", "CreateFunction", "KMSKeyArn"),
    ("lambda/Function", "role"): ("lambda", "CreateFunction", "Role"),
    ("lambda/Function", "vpcConfig.subnetIds[]"): ("lambda", "CreateFunction", "VpcConfig.SubnetIds"),
    ("lambda/Function", "vpcConfig.securityGroupIds[]"): ("lambda", "CreateFunction", "VpcConfig.SecurityGroupIds"),
    ("lambda/EventSourceMapping", "functionName"): ("lambda", "CreateEventSourceMapping", "FunctionName"),
    ("iam/RolePolicy", "role"): ("iam", "PutRolePolicy", "RoleName"),
    ("wafv2/WebACLAssociation", "webAclArn"): ("wafv2", "AssociateWebACL", "WebACLArn"),
    ("wafv2/WebACLAssociation", "resourceArn"): ("wafv2", "AssociateWebACL", "ResourceArn"),
    ("servicediscovery/Service", "dnsConfig.namespaceId"): ("servicediscovery", "CreateService",
                                                            "DnsConfig.NamespaceId"),
    ("servicediscovery/PrivateDNSNamespace", "vpc"): ("servicediscovery", "CreatePrivateDnsNamespace", "Vpc"),
    ("cloudwatch/MetricAlarm", "okActions[]"): ("cloudwatch", "PutMetricAlarm", "OKActions"),
    ("cloudwatch/MetricAlarm", "alarmActions[]"): ("cloudwatch", "PutMetricAlarm", "AlarmActions"),
    ("kms/Alias", "targetKeyId"): ("kms", "CreateAlias", "TargetKeyId"),
}

# status.atProvider.id (the Terraform ID) of the targets we reference by it: its format.
TERRAFORM_ID_FORMATS: Final[dict[str, str]] = {
    "iam/Role": NAME, "s3/Bucket": NAME, "sqs/Queue": URL, "ec2/EIP": ID, "ec2/NetworkACL": ID,
    "servicediscovery/PrivateDNSNamespace": ID, "ec2/VPCPeeringConnection": ID, "ec2/InternetGateway": ID,
    "sns/Topic": ARN, "ecs/Cluster": ARN, "ec2/RouteTable": ID, "ec2/VPCEndpoint": ID,
}

UUID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
AWS_ID: Final = re.compile(r"^[a-z]+(-[a-z]+)?-[0-9a-z]{8,32}$")  # vpc-..., subnet-..., eipalloc-..., ns-...


def format_of_external_name(target: str) -> str:
    """What a target kind's external name holds, in the words of the external-names table."""
    holds = external_names()[target].holds
    if "key ID" in holds:
        return KEY_ID
    if "queue URL" in holds:
        return URL
    if holds.startswith("ARN"):
        return ARN
    if "ID assigned by AWS" in holds or "ID (" in holds or re.search(r"\([a-z]+-\.\.\.\)", holds):
        return ID
    if "name" in holds:
        return NAME
    raise AssertionError(f"{target}: cannot tell what its external name holds from {holds!r}")


def copied_format(ref: Reference) -> str:
    """The format of what a resolver copies."""
    if ref.copies == "external-name":
        return format_of_external_name(ref.target)
    if ref.copies == "status.atProvider.arn":
        return ARN
    if ref.copies == "status.atProvider.id":
        assert ref.target in TERRAFORM_ID_FORMATS, f"{ref.target}: add its Terraform ID format to TERRAFORM_ID_FORMATS"
        return TERRAFORM_ID_FORMATS[ref.target]
    if ref.copies == "status.atProvider.keyId":
        return KEY_ID
    if ref.copies == "spec.forProvider.identifier":
        return NAME
    raise AssertionError(f"{ref.kind}.{ref.field}: unknown extractor {ref.extractor}")


def format_of_value(value: str) -> str:
    """The format of a concrete value."""
    if value.startswith("arn:"):
        return ARN
    if value.startswith("https://"):
        return URL
    if UUID.match(value):
        return KEY_ID
    if AWS_ID.match(value):
        return ID
    return NAME


# --- the MRs checked ---------------------------------------------------------------------------------------------


def key_of(mr: dict[str, Any]) -> str:
    return BY_API_KIND[(mr["apiVersion"], mr["kind"])].key



def _observed_render(cr: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Every MR of a CR, rendered until nothing new appears (each round's MRs reported Ready with the status the
    simulated provider gives them: real id and ARN formats), so the MRs that wait for provider values are
    included and the literals copied from observed state have AWS's formats."""
    observed, seen = Observed(), -1
    account = str(cr["spec"].get("awsAccountId", ACCOUNT_ID))
    for _ in range(10):
        result = render(cr, DEFAULTS, observed, FAKE_ARTIFACT)
        if len(result.resources) == seen:
            assert result.pending == ()
            return result.resources
        seen = len(result.resources)
        observed = Observed.from_objects(
            {"kind": m["kind"], "metadata": {"name": m["metadata"]["name"]},
             "status": {"atProvider": facts.at_provider(facts.Subject.of(KINDS[key_of(m)], m, account)),
                        "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]}}
            for m in result.resources)
    raise AssertionError("rendering did not converge")


def _example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _test_spec(**changes: Any) -> dict[str, Any]:
    cr = yaml.safe_load(yaml.safe_dump(TWO_REGION_CR))
    regions = changes.pop("regions", None)
    if regions is not None:
        cr["spec"]["regions"] = regions
    cr["spec"].update(changes)
    return cr  # type: ignore[no-any-return]


CERT = "arn:aws:acm:{}:123456789012:certificate/0b7c1a5e-0000-4000-8000-000000000000"
TEST_SPECS: Final[dict[str, dict[str, Any]]] = {
    "two-region (conftest)": _test_spec(),
    # a test environment: no certificate (HTTP refused with a fixed response, nothing forwarded)
    "three regions, Retain, no certificate": _test_spec(environment="staging", regions=[
        {"name": "us-east-1", "primary": True, "vpcCidr": "10.10.0.0/16"},
        {"name": "us-east-2", "vpcCidr": "10.20.0.0/16"}, {"name": "us-west-2", "vpcCidr": "10.30.0.0/16"}],
        lifecycle="Retain"),
    "no replica, PassThrough tracing": _test_spec(database={"crossRegionReplica": False},
                                                  payments={"tracing": "PassThrough"}),
    "HTTPS per region, private ECR image": _test_spec(
        regions=[{"name": "us-east-1", "primary": True, "vpcCidr": "10.10.0.0/16",
                  "certificateArn": CERT.format("us-east-1")},
                 {"name": "us-east-2", "vpcCidr": "10.20.0.0/16", "certificateArn": CERT.format("us-east-2")}],
        service={"image": f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/payments-api:1.0",
                 "healthCheckPath": "/healthz"}),
}


@dataclass(frozen=True)
class Rendered:
    label: str
    resources: tuple[dict[str, Any], ...]


def _all_rendered() -> list[Rendered]:
    out = [Rendered(f"example {p.name}", _observed_render(_example(p.name))) for p in sorted(EXAMPLES.glob("*.yaml"))]
    out += [Rendered(f"spec {label}", _observed_render(cr)) for label, cr in TEST_SPECS.items()]
    return out


RENDERED: Final = _all_rendered()


@dataclass(frozen=True)
class Use:
    """One reference as a rendered MR uses it."""

    mr: dict[str, Any]
    ref: Reference
    path: str
    names: tuple[str, ...] | None  # by Ref; None: by Selector
    selector: dict[str, Any] | None


def uses(mr: dict[str, Any]) -> Iterator[Use]:
    for part in ("forProvider", "initProvider"):
        block = mr["spec"].get(part) or {}
        for ref in references().get(key_of(mr), ()):
            for path, container in containers(block, ref):
                named = ref_names(container, ref)
                selector = container.get(ref.selector)
                if named is not None or selector is not None:
                    yield Use(mr, ref, path.replace("forProvider", part), tuple(named) if named is not None else None,
                              selector if isinstance(selector, dict) else None)


def _reference_keys(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, key) of every key that looks like a Ref or Selector (secret references excepted)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if re.search(r"(Ref|Refs|Selector)$", key) and not key.endswith("SecretRef"):
                yield path, key
            yield from _reference_keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _reference_keys(item, f"{path}[{i}]")


def problems_of(resources: tuple[dict[str, Any], ...]) -> list[str]:
    """Every breach of the contract among one render's MRs (empty when all hold)."""
    problems: list[str] = []
    by_kind: dict[tuple[str, str], dict[str, Any]] = {(key_of(m), m["metadata"]["name"]): m for m in resources}
    namespaces = {m["metadata"]["namespace"] for m in resources}
    assert len(namespaces) == 1
    for mr in resources:
        kind, name = key_of(mr), mr["metadata"]["name"]
        where = f"{kind}/{name}"
        for part in ("forProvider", "initProvider"):
            for path, key in _reference_keys(mr["spec"].get(part) or {}, f"spec.{part}"):
                if not any(key in (r.ref, r.selector) for r in references().get(kind, ())):
                    problems.append(f"{where} {path}.{key}: not a reference of {kind} in the provider's table")
        for use in uses(mr):
            field = use.ref.field
            target = use.ref.target
            if target not in KINDS:
                problems.append(f"{where} {use.path}.{use.ref.ref}: points at {target}, which the renderer never emits")
                continue
            targets: list[dict[str, Any]] = []
            if use.names is not None:
                for n in use.names:
                    found = by_kind.get((target, n))
                    if found is None:
                        problems.append(f"{where} {use.path}.{use.ref.ref}: no {target} named {n!r} is rendered")
                    else:
                        targets.append(found)
            else:
                labels = (use.selector or {}).get("matchLabels") or {}
                targets = [m for (k, _), m in by_kind.items() if k == target
                           and all(m["metadata"]["labels"].get(lk) == lv for lk, lv in labels.items())]
                if not targets:
                    problems.append(f"{where} {use.path}.{use.ref.selector}: selects no rendered {target}")
            accepted = FIELD_FORMATS.get((kind, field))
            if accepted is None:
                problems.append(f"{where}: {kind}.{field} has no line in FIELD_FORMATS (what does AWS take?)")
                continue
            copied = copied_format(use.ref)
            if copied not in accepted:
                problems.append(f"{where} {use.path}.{use.ref.leaf}: the resolver copies the {target}'s "
                                f"{use.ref.copies} ({copied}), but AWS takes {'/'.join(sorted(accepted))} here")
            for t in targets:
                value = simulated_copy(t, use.ref)
                if value is not None:
                    problems += [f"{where} {use.path}.{use.ref.leaf}: {p}" for p in value_problems(kind, field, value)]
        problems += literal_problems(mr)
        annotation = (mr["metadata"].get("annotations") or {}).get(EXTERNAL_NAME)
        if annotation is not None and not external_names()[kind].user_may_set:
            problems.append(f"{where}: sets {EXTERNAL_NAME}={annotation!r}, but {kind}'s external name is "
                            f"{external_names()[kind].holds} ({external_names()[kind].set_before_create[:40]}...)")
        elif annotation is not None:
            kept = facts.identity(facts.Subject.of(KINDS[kind], mr, ACCOUNT_ID))
            if kept != annotation:  # the operator owns the annotation: each apply would put its value back
                problems.append(f"{where}: sets {EXTERNAL_NAME}={annotation!r}, but the provider keeps {kept!r}")
    return problems


def simulated_copy(target: dict[str, Any], ref: Reference) -> str | None:
    """What the resolver would copy from the rendered target once the provider created it (the simulator's
    provider facts: external name as the provider writes it, atProvider as it reports it)."""
    subject = facts.Subject.of(KINDS[key_of(target)], target, ACCOUNT_ID)
    if ref.copies == "external-name":
        return facts.identity(subject)
    if ref.copies.startswith("status.atProvider."):
        value = facts.at_provider(subject).get(ref.copies.removeprefix("status.atProvider."))
        return str(value) if value is not None else None
    if ref.copies.startswith("spec.forProvider."):
        value = target["spec"]["forProvider"].get(ref.copies.removeprefix("spec.forProvider."))
        return str(value) if value is not None else None
    return None


_BOTOCORE = botocore.session.get_session()


def _shape(service: str, operation: str, member: str) -> tuple[str | None, int | None]:
    shape = _BOTOCORE.get_service_model(service).operation_model(operation).input_shape
    for part in member.split("."):
        shape = shape.members[part]
        if shape.type_name == "list":
            shape = shape.member
    return shape.metadata.get("pattern"), shape.metadata.get("max")


def value_problems(kind: str, field: str, value: str) -> list[str]:
    problems = []
    accepted = FIELD_FORMATS.get((kind, field))
    if accepted is not None and format_of_value(value) not in accepted:
        problems.append(f"{value!r} is a {format_of_value(value)}, AWS takes {'/'.join(sorted(accepted))}")
    shape = BOTOCORE_SHAPES.get((kind, field))
    if shape is not None:
        pattern, limit = _shape(*shape)
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(f"{value!r} does not match botocore's {'.'.join(shape)} pattern {pattern!r}")
        if limit is not None and len(value) > limit:
            problems.append(f"{value!r} is longer than botocore's {'.'.join(shape)} limit {limit}")
    return problems


def literal_problems(mr: dict[str, Any]) -> list[str]:
    """Literal values the renderer put into reference fields (a Ref was not usable) must fit the same format."""
    problems = []
    kind = key_of(mr)
    for ref in references().get(kind, ()):
        for path, container in containers(mr["spec"]["forProvider"], ref):
            value = container.get(ref.leaf)
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, str):
                    problems += [f"{kind}/{mr['metadata']['name']} {path}.{ref.leaf}: {p}"
                                 for p in value_problems(kind, ref.field, item)]
    return problems


# --- the tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rendered", RENDERED, ids=[r.label for r in RENDERED])
def test_references_resolve_to_values_aws_accepts(rendered: Rendered) -> None:
    assert problems_of(rendered.resources) == []


@pytest.mark.parametrize("rendered", RENDERED, ids=[r.label for r in RENDERED])
def test_the_renders_use_references_at_all(rendered: Rendered) -> None:
    """The checks above cannot pass vacuously: every render uses dozens of references and several literals."""
    used = [u for m in rendered.resources for u in uses(m)]
    assert len(used) > 50 * 2
    assert {u.ref.copies for u in used} >= {"external-name", "status.atProvider.arn", "status.atProvider.id"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=valid_specs())
def test_fuzzed_specs_keep_the_contract(spec: dict[str, Any]) -> None:
    cr = {"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
          "metadata": {"name": "payments", "namespace": "payments"}, "spec": spec}
    try:
        resources = _observed_render(cr)
    except SpecValidationError:  # a valid-looking spec the renderer refuses (a name too long, ...): not our topic
        return
    assert problems_of(resources) == []


def test_every_reference_field_has_a_format() -> None:
    """FIELD_FORMATS covers every reference any render uses (and nothing stale)."""
    used = {(key_of(u.mr), u.ref.field) for r in RENDERED for m in r.resources for u in uses(m)}
    assert used - FIELD_FORMATS.keys() == set()
    literal_only = {("wafv2/WebACLAssociation", "resourceArn"), ("cloudwatch/MetricAlarm", "alarmActions[]"),
                    ("rds/Instance", "replicateSourceDb"), ("lambda/Function", "loggingConfig.logGroup"),
                    ("ec2/Route", "vpcPeeringConnectionId"), ("ec2/VPCPeeringConnectionAccepter",
                                                              "vpcPeeringConnectionId"),
                    ("lambda/Function", "kmsKeyArn"), ("s3/Object", "kmsKeyId"),
                    ("s3/BucketReplicationConfiguration",
                     "rule[].destination.encryptionConfiguration.replicaKmsKeyId")}
    assert FIELD_FORMATS.keys() - used <= literal_only | {
        ("rds/Instance", "masterUserSecretKmsKeyId")}  # used only without replicas (a test spec covers it)


def test_the_simulator_treats_the_same_kinds_as_aws_assigned() -> None:
    """The simulator writes AWS-style identities exactly for the kinds the provider's table says AWS assigns
    (or the provider builds from spec), so its external names are the provider's."""
    table = {k for k in KINDS if not external_names()[k].user_may_set}
    assert set(facts.PROVIDER_ASSIGNED) == table


# --- the checks catch what they are for (each is a finding of issue 11) ------------------------------------------


def _two_region() -> tuple[dict[str, Any], ...]:
    return _observed_render(_example("two-region.yaml"))


def _edit(resources: tuple[dict[str, Any], ...], kind: str, change: Any) -> tuple[dict[str, Any], ...]:
    edited = yaml.safe_load(yaml.safe_dump(list(resources)))
    for mr in edited:
        if mr["kind"] == kind:
            change(mr)
    return tuple(edited)


def test_a_key_id_resolver_into_an_arn_field_is_caught() -> None:
    """Finding 2: Function.kmsKeyArnRef copies the key id; CreateFunction wants an ARN."""
    def use_ref(mr: dict[str, Any]) -> None:
        fp = mr["spec"]["forProvider"]
        fp.pop("kmsKeyArn")
        fp["kmsKeyArnRef"] = {"name": fp["vpcConfig"]["securityGroupIdRefs"][0]["name"].replace("lambda-sg", "kms")}
    problems = problems_of(_edit(_two_region(), "Function", use_ref))
    assert any("kmsKeyArn" in p and "copies the kms/Key's external-name (key-id)" in p for p in problems), problems
    assert any("does not match botocore's lambda.CreateFunction.KMSKeyArn pattern" in p for p in problems), problems


def test_an_object_key_id_resolver_is_caught() -> None:
    """Finding 5: s3 Object kmsKeyIdRef copies the key id; S3 reports the ARN (a diff on every poll)."""
    def use_ref(mr: dict[str, Any]) -> None:
        fp = mr["spec"]["forProvider"]
        fp.pop("kmsKeyId")
        fp["kmsKeyIdRef"] = {"name": f"kms-{mr['metadata']['name'].split('-', 3)[-1]}"}
    problems = problems_of(_edit(_two_region(), "Object", use_ref))
    assert any("kmsKeyId" in p and "(key-id)" in p for p in problems), problems


def test_a_pinned_queue_external_name_is_caught() -> None:
    """Finding 4: a queue's external name is its URL, assigned after creation."""
    def pin(mr: dict[str, Any]) -> None:
        mr["metadata"]["annotations"] = {EXTERNAL_NAME: mr["spec"]["forProvider"]["name"]}
    problems = problems_of(_edit(_two_region(), "Queue", pin))
    assert any("sqs/Queue" in p and "queue URL" in p for p in problems), problems


def test_a_reference_to_a_missing_mr_is_caught() -> None:
    def dangle(mr: dict[str, Any]) -> None:
        mr["spec"]["forProvider"]["vpcIdRef"] = {"name": "no-such-vpc"}
    problems = problems_of(_edit(_two_region(), "Subnet", dangle))
    assert any("no ec2/VPC named 'no-such-vpc' is rendered" in p for p in problems), problems


def test_a_reference_the_provider_does_not_have_is_caught() -> None:
    def invent(mr: dict[str, Any]) -> None:
        mr["spec"]["forProvider"]["taskRoleArnRef"] = {"name": "x"}
    problems = problems_of(_edit(_two_region(), "TaskDefinition", invent))
    assert any("taskRoleArnRef: not a reference" in p for p in problems), problems


def test_an_alias_pinned_with_its_prefix_is_caught() -> None:
    """Finding 6: the provider keeps an Alias's external name without `alias/`; pinned with it, it flips."""
    def prefix(mr: dict[str, Any]) -> None:
        mr["metadata"]["annotations"][EXTERNAL_NAME] = f"alias/{mr['metadata']['annotations'][EXTERNAL_NAME]}"
    problems = problems_of(_edit(_two_region(), "Alias", prefix))
    assert any("kms/Alias" in p and "the provider keeps" in p for p in problems), problems

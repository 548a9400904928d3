"""Security invariants over both examples, fully observed: encryption with the region's own key, nothing public
but the ALB, least-privilege IAM (with a written allow-list), one-way replication, the deletion settings of the
default lifecycle, and the tags and labels every MR carries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_operator.defaults import RegionDefaults
from regional_operator.render import names, payments, render
from regional_operator.render.context import (
    EXTERNAL_NAME,
    LABEL_COMPONENT,
    LABEL_DEPLOYMENT,
    LABEL_REGION,
    MANAGED_BY,
    RenderContext,
)
from regional_operator.render.kinds import BY_API_KIND
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_spec

from tests.render.test_golden import FAKE_ARTIFACT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ANYWHERE = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class Rendered:
    cr: dict[str, Any]
    ctx: RenderContext
    resources: tuple[dict[str, Any], ...]

    def of(self, kind: str, api_group: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.resources
                if m["kind"] == kind and (api_group is None or m["apiVersion"].startswith(f"{api_group}."))]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [m for m in self.of(kind) if m["metadata"]["name"] == name]
        return found


@pytest.fixture(params=["two-region.yaml", "three-region.yaml"])
def example(request: pytest.FixtureRequest, defaults: RegionDefaults,
            observe_all: Callable[[dict[str, Any]], Observed]) -> Rendered:
    cr = yaml.safe_load((EXAMPLES / request.param).read_text(encoding="utf-8"))
    result = render(cr, defaults, observe_all(cr), FAKE_ARTIFACT)
    assert result.pending == ()
    ctx = RenderContext(parse_spec(cr["spec"]), defaults, namespace=cr["metadata"]["namespace"],
                        name=cr["metadata"]["name"], observed=Observed())
    return Rendered(cr, ctx, result.resources)


def fp(mr: dict[str, Any]) -> dict[str, Any]:
    return dict(mr["spec"]["forProvider"])


def region_of(mr: dict[str, Any]) -> str:
    return str(mr["metadata"]["labels"][LABEL_REGION])


# --- encryption: every data store on its own region's CMK ---------------------------------------------------------


def own_key(ex: Rendered, region: str) -> dict[str, str]:
    return {"name": names.kms_key(ex.ctx, ex.ctx.region(region))}


def own_alias(ex: Rendered, region: str) -> str:
    return names.kms_alias_name(ex.ctx, ex.ctx.region(region))


def test_rds_instances_are_encrypted_with_their_region_key(example: Rendered) -> None:
    instances = example.of("Instance")
    assert sorted(region_of(m) for m in instances) == sorted(r.name for r in example.ctx.regions)
    for m in instances:
        region = region_of(m)
        assert fp(m)["storageEncrypted"] is True
        assert fp(m)["kmsKeyIdRef"] == own_key(example, region)
        assert fp(m)["performanceInsightsKmsKeyId"].startswith(f"arn:aws:kms:{region}:")
        if "masterUserSecretKmsKeyIdRef" in fp(m):
            assert fp(m)["masterUserSecretKmsKeyIdRef"] == own_key(example, region)


def test_dynamodb_tables_and_every_replica_use_their_region_key(example: Rendered) -> None:
    tables = example.of("Table")
    assert len(tables) == 2  # sessions and ledger
    for m in tables:
        assert region_of(m) == example.ctx.primary.name
        assert fp(m)["serverSideEncryption"] == {"enabled": True, "kmsKeyArnRef": own_key(example, region_of(m))}
        replicas = fp(m)["replica"]
        assert sorted(x["regionName"] for x in replicas) == sorted(r.name for r in example.ctx.secondaries)
        for replica in replicas:
            assert replica["kmsKeyArnRef"] == own_key(example, replica["regionName"])


def test_buckets_and_objects_are_sse_kms_with_their_region_key(example: Rendered) -> None:
    buckets = example.of("Bucket")
    assert len(buckets) == 2 * len(example.ctx.regions)  # uploads and Lambda artifacts
    for bucket in buckets:
        name, region = bucket["metadata"]["name"], region_of(bucket)
        (rule,) = fp(example.one("BucketServerSideEncryptionConfiguration", name))["rule"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                              "kmsMasterKeyIdRef": own_key(example, region)}
        assert region_of(example.one("BucketServerSideEncryptionConfiguration", name)) == region
    for obj in example.of("Object"):
        assert fp(obj)["serverSideEncryption"] == "aws:kms"
        assert fp(obj)["kmsKeyId"].startswith(f"arn:aws:kms:{region_of(obj)}:")  # an ARN, as S3 reports it


def test_queues_topics_log_groups_and_functions_use_their_region_key(example: Rendered) -> None:
    regions = len(example.ctx.regions)
    queues, topics = example.of("Queue"), example.of("Topic")
    groups, functions = example.of("Group"), example.of("Function")
    assert (len(queues), len(topics), len(groups), len(functions)) == (2 * regions, regions, 2 * regions, regions)
    for m in queues + topics:
        assert fp(m)["kmsMasterKeyId"] == own_alias(example, region_of(m))
    for m in groups:
        assert fp(m)["kmsKeyIdRef"] == own_key(example, region_of(m))
    for m in functions:
        assert fp(m)["kmsKeyArn"].startswith(f"arn:aws:kms:{region_of(m)}:")  # CreateFunction takes only an ARN
    # the aliases SQS and SNS name resolve to the same region's key (the external name is kept without `alias/`)
    for alias in example.of("Alias"):
        region = region_of(alias)
        assert f"alias/{alias['metadata']['annotations'][EXTERNAL_NAME]}" == own_alias(example, region)
        assert fp(alias)["targetKeyIdRef"] == own_key(example, region)


def _kms_fields(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) under a key that names a KMS key (kmsKeyIdRef, replicaKmsKeyId, kmsMasterKeyId...)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if "kms" in key.lower() and "key" in key.lower():  # not e.g. sseKmsEncryptedObjects
                yield f"{path}.{key}", value
            else:
                yield from _kms_fields(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _kms_fields(value, f"{path}[{i}]")


def test_no_mr_points_at_another_regions_key(example: Rendered) -> None:
    """A sweep over every KMS-key field of every MR, so a new field cannot slip past the explicit tests above.
    The only cross-region references are the ones that must be: a DynamoDB replica's key and an S3 replication
    destination's key are in the replica's (destination's) region."""
    bucket_region = {m["metadata"]["name"]: region_of(m) for m in example.of("Bucket")}
    seen = 0
    for mr in example.resources:
        for path, value in _kms_fields(fp(mr)):
            seen += 1
            region = region_of(mr)
            if mr["kind"] == "Table" and path.startswith(".replica["):
                region = fp(mr)["replica"][int(path.split("[")[1].split("]")[0])]["regionName"]
            if mr["kind"] == "BucketReplicationConfiguration":
                rule = fp(mr)["rule"][int(path.split("[")[1].split("]")[0])]
                region = bucket_region[rule["destination"]["bucketRef"]["name"]]
            where = f"{mr['kind']}/{mr['metadata']['name']}{path}"
            if isinstance(value, dict):
                assert value == own_key(example, region), where
            elif value.startswith("alias/"):
                assert value == own_alias(example, region), where
            else:
                assert value.startswith(f"arn:aws:kms:{region}:{example.ctx.spec.aws_account_id}:key/"), where
    assert seen > 10 * len(example.ctx.regions)


# --- nothing public but the ALB -----------------------------------------------------------------------------------


def test_only_the_alb_is_reachable_from_the_internet(example: Rendered) -> None:
    ctx = example.ctx
    assert all(fp(m)["mapPublicIpOnLaunch"] is False for m in example.of("Subnet"))
    assert all(fp(m)["publiclyAccessible"] is False for m in example.of("Instance"))
    ecs_services = example.of("Service", "ecs")
    assert len(ecs_services) == len(ctx.regions)
    assert all(fp(m)["networkConfiguration"]["assignPublicIp"] is False for m in ecs_services)

    alb_sgs = {names.security_group(ctx, r, "alb") for r in ctx.regions}
    open_ingress = [m for m in example.of("SecurityGroupIngressRule")
                    if fp(m).get("cidrIpv4") in ANYWHERE or fp(m).get("cidrIpv6") in ANYWHERE]
    assert open_ingress, "the ALB must take traffic from the internet"
    assert {fp(m)["securityGroupIdRef"]["name"] for m in open_ingress} == alb_sgs
    # 80 everywhere; 443 only where the region has an HTTPS listener (a certificate)
    https = [r for r in ctx.regions if r.certificate_arn]
    assert sorted(fp(m)["fromPort"] for m in open_ingress) == sorted([80] * len(ctx.regions) + [443] * len(https))
    assert not any("ingress" in fp(m) for m in example.of("SecurityGroup"))  # no inline rules bypassing the above

    albs = {names.alb(ctx, r) for r in ctx.regions}
    for lb in example.of("LB"):
        assert fp(lb)["internal"] is (lb["metadata"]["name"] not in albs)
    assert {m["metadata"]["name"] for m in example.of("LB") if fp(m)["internal"] is False} == albs

    buckets = {m["metadata"]["name"] for m in example.of("Bucket")}
    blocks = example.of("BucketPublicAccessBlock")
    assert {m["metadata"]["name"] for m in blocks} == buckets
    for m in blocks:
        assert all(fp(m)[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                              "restrictPublicBuckets"))


# --- IAM and resource policies --------------------------------------------------------------------------------------

POLICY_FIELDS: dict[str, str] = {
    "RolePolicy": "policy", "Role": "assumeRolePolicy", "BucketPolicy": "policy", "QueuePolicy": "policy",
    "TopicPolicy": "policy", "Key": "policy",
}


@dataclass(frozen=True)
class Allowance:
    """A broad grant we accept, and why. `matches(kind, statement, problem)` says whether it covers a finding."""

    id: str
    reason: str
    matches: Callable[[str, dict[str, Any], str], bool]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


ALLOW_LIST: tuple[Allowance, ...] = (
    Allowance(
        "kms-key-policy-resource",
        "In a KMS key policy, Resource '*' means 'this key': a key policy cannot name any other resource.",
        lambda kind, s, problem: kind == "Key" and problem == "Resource '*'",
    ),
    Allowance(
        "kms-account-delegation",
        "AWS's default key policy statement: kms:* for the account root hands authorisation of the key to IAM "
        "policies (without it nobody, not even the account, could manage the key).",
        lambda kind, s, problem: (kind == "Key" and s.get("Sid") == "AccountIAMDelegation"
                                  and problem == "Action 'kms:*'"
                                  and list(s["Principal"]) == ["AWS"] and s["Principal"]["AWS"].endswith(":root")),
    ),
    Allowance(
        "lambda-xray-traces",
        "Active tracing: Lambda requires xray:PutTraceSegments and xray:PutTelemetryRecords on the execution role, "
        "and X-Ray supports no resource-level permissions for them (payments.XRAY_ACTIONS, exactly those actions).",
        lambda kind, s, problem: (kind == "RolePolicy" and problem == "Resource '*'"
                                  and sorted(_list(s["Action"])) == sorted(payments.XRAY_ACTIONS)),
    ),
    Allowance(
        "lambda-vpc-eni",
        "EC2 network-interface actions support no resource-level permissions; a Lambda function in a VPC needs "
        "them to attach (payments.VPC_ENI_ACTIONS, exactly those actions).",
        lambda kind, s, problem: (kind == "RolePolicy" and problem == "Resource '*'"
                                  and sorted(_list(s["Action"])) == sorted(payments.VPC_ENI_ACTIONS)),
    ),
)


def policy_documents(ex: Rendered) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for mr in ex.resources:
        field = POLICY_FIELDS.get(mr["kind"])
        if field is not None:
            yield mr, json.loads(fp(mr)[field])


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """What makes an Allow statement broad: a wildcard action, a wildcard resource, a public principal, or the
    inverted forms. Deny statements only restrict and are not checked."""
    if statement["Effect"] != "Allow":
        return []
    problems = [f"Action {a!r}" for a in _list(statement.get("Action", [])) if a == "*" or a.endswith(":*")]
    problems += [f"Resource {r!r}" for r in _list(statement.get("Resource", [])) if r == "*"]
    problems += [f"uses {k}" for k in ("NotAction", "NotResource", "NotPrincipal") if k in statement]
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and "*" in _list(principal.get("AWS", []))):
        problems.append("public Principal '*'")
    return problems


def test_every_policy_field_is_inspected(example: Rendered) -> None:
    """No policy document outside POLICY_FIELDS: any forProvider string that parses as a policy is covered."""
    for mr in example.resources:
        for key, value in fp(mr).items():
            if isinstance(value, str) and value.startswith("{") and '"Statement"' in value:
                assert POLICY_FIELDS.get(mr["kind"]) == key, f"{mr['kind']}.{key} is a policy nobody checks"


def test_no_broad_allow_outside_the_allow_list(example: Rendered) -> None:
    unexplained, used = [], set()
    for mr, doc in policy_documents(example):
        assert doc["Version"] == "2012-10-17"
        for statement in _list(doc["Statement"]):
            assert statement["Effect"] in ("Allow", "Deny")
            for problem in statement_problems(statement):
                allowance = next((a for a in ALLOW_LIST if a.matches(mr["kind"], statement, problem)), None)
                if allowance is None:
                    unexplained.append(f"{mr['kind']}/{mr['metadata']['name']} {statement.get('Sid', '')}: {problem}")
                else:
                    used.add(allowance.id)
    assert unexplained == []
    assert used == {a.id for a in ALLOW_LIST}, "an allow-list entry no longer matches anything: remove it"


def test_resource_policies_deny_plain_transport(example: Rendered) -> None:
    """Every bucket, queue and topic policy carries a TLS-only Deny for everyone."""
    for mr, doc in policy_documents(example):
        if mr["kind"] in ("BucketPolicy", "QueuePolicy", "TopicPolicy"):
            tls = [s for s in _list(doc["Statement"]) if s["Effect"] == "Deny" and s["Principal"] == "*"
                   and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
            assert tls, f"{mr['kind']}/{mr['metadata']['name']}"


def test_role_trust_is_one_service_principal(example: Rendered) -> None:
    for role in example.of("Role"):
        doc = json.loads(fp(role)["assumeRolePolicy"])
        for s in _list(doc["Statement"]):
            assert s["Effect"] == "Allow" and s["Action"] == "sts:AssumeRole"
            assert list(s["Principal"]) == ["Service"] and s["Principal"]["Service"].endswith(".amazonaws.com")


# --- replication, deletion, tags ----------------------------------------------------------------------------------


def test_replication_is_one_way_from_the_primary(example: Rendered) -> None:
    ctx = example.ctx
    (config,) = example.of("BucketReplicationConfiguration")
    assert region_of(config) == ctx.primary.name
    assert fp(config)["bucketRef"] == {"name": names.uploads_bucket(ctx, ctx.primary)}
    destinations = [rule["destination"]["bucketRef"]["name"] for rule in fp(config)["rule"]]
    assert sorted(destinations) == sorted(names.uploads_bucket(ctx, r) for r in ctx.secondaries)


def test_default_lifecycle_deletes_everything(example: Rendered) -> None:
    assert example.cr["spec"]["lifecycle"] == "Delete"
    assert all(m["spec"]["managementPolicies"] == ["*"] for m in example.resources)
    for m in example.of("Instance"):
        assert fp(m)["skipFinalSnapshot"] is True
        assert fp(m)["deletionProtection"] is False
        assert "finalSnapshotIdentifier" not in fp(m)
    assert all(fp(m)["forceDestroy"] is True for m in example.of("Bucket"))
    assert all(fp(m)["deletionWindowInDays"] == 7 for m in example.of("Key"))
    for m in example.of("Table"):
        assert fp(m)["deletionProtectionEnabled"] is False
        assert all(x["deletionProtectionEnabled"] is False for x in fp(m)["replica"])
    assert all(fp(m)["enableDeletionProtection"] is False for m in example.of("LB"))


def test_tags_and_labels(example: Rendered) -> None:
    spec = example.cr["spec"]
    for m in example.resources:
        where = f"{m['kind']}/{m['metadata']['name']}"
        labels = m["metadata"]["labels"]
        assert labels[LABEL_DEPLOYMENT] == example.cr["metadata"]["name"], where
        assert labels[LABEL_REGION] in {r.name for r in example.ctx.regions}, where
        assert labels[LABEL_COMPONENT], where
        kind = BY_API_KIND[(m["apiVersion"], m["kind"])]
        if kind.regional:
            assert fp(m)["region"] == labels[LABEL_REGION], where
        if not kind.taggable:
            assert "tags" not in fp(m), where
            continue
        tags = fp(m)["tags"]
        assert tags["Environment"] == spec["environment"], where
        assert tags["Region"] == labels[LABEL_REGION], where
        assert tags["CostCenter"] == spec["costCenter"], where
        assert tags["ManagedBy"] == MANAGED_BY, where

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
from regional_operator.aws_facts import ELB_LOG_DELIVERY_ACCOUNTS
from regional_operator.defaults import RegionDefaults, parse_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.render import database, endpoints, keys, logging, names, payments, render, uploads
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
from regional_operator.spec import PRODUCTION_ENVIRONMENTS, parse_spec

from tests.unit.render.conftest import ACCOUNT_ID
from tests.unit.render.test_golden import FAKE_ARTIFACT

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
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
    """Every bucket but the ALB access-log buckets (ALB log delivery supports SSE-S3 only) is on the region key."""
    log_buckets = {logging.alb_logs_bucket(example.ctx, r) for r in example.ctx.regions}
    buckets = [b for b in example.of("Bucket") if b["metadata"]["name"] not in log_buckets]
    assert len(buckets) == 2 * len(example.ctx.regions)  # uploads and Lambda artifacts
    for name in log_buckets:
        (rule,) = fp(example.one("BucketServerSideEncryptionConfiguration", name))["rule"]
        assert rule == {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    for bucket in buckets:
        name, region = bucket["metadata"]["name"], region_of(bucket)
        (rule,) = fp(example.one("BucketServerSideEncryptionConfiguration", name))["rule"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                              "kmsMasterKeyIdRef": own_key(example, region)}
        assert region_of(example.one("BucketServerSideEncryptionConfiguration", name)) == region
    for obj in example.of("Object"):
        assert fp(obj)["serverSideEncryption"] == "aws:kms"
        # by ARN: the bucket policy's key condition compares the key ARN (conftest's plausible_status ARN)
        region = region_of(obj)
        assert fp(obj)["kmsKeyId"] == f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{own_key(example, region)['name']}"


def test_queues_topics_log_groups_and_functions_use_their_region_key(example: Rendered) -> None:
    regions = len(example.ctx.regions)
    queues, topics = example.of("Queue"), example.of("Topic")
    groups, functions = example.of("Group"), example.of("Function")
    # log groups per region: Lambda, ECS, flow logs, WAF, and the database's postgresql and upgrade logs
    assert (len(queues), len(topics), len(groups), len(functions)) == (2 * regions, regions, 6 * regions, regions)
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
    "TopicPolicy": "policy", "Key": "policy", "VPCEndpoint": "policy",
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
        "lambda-vpc-eni-describe",
        "ec2:DescribeNetworkInterfaces supports no resource-level permissions; a Lambda function in a VPC needs it "
        "(payments.VPC_ENI_DESCRIBE_ACTIONS, exactly that action; the ENI-changing actions are scoped).",
        lambda kind, s, problem: (kind == "RolePolicy" and problem == "Resource '*'"
                                  and sorted(_list(s["Action"])) == sorted(payments.VPC_ENI_DESCRIBE_ACTIONS)),
    ),
    Allowance(
        "vpc-endpoint-policy-principal",
        "A gateway endpoint policy limits what may pass through the endpoint; Principal '*' with aws:PrincipalAccount "
        "(this account's principals) or the ECR layer bucket (read by AWS on the image pull) is the documented form, "
        "and every Resource is named exactly.",
        lambda kind, s, problem: (kind == "VPCEndpoint" and problem == "public Principal '*'"
                                  and "*" not in _list(s["Resource"])
                                  and (s.get("Condition") == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT_ID}}
                                       or s.get("Sid") == "EcrImageLayers")),
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


# --- auditor controls (issue 13) ----------------------------------------------------------------------------------


def of_region(ex: Rendered, kind: str, region: str) -> list[dict[str, Any]]:
    return [m for m in ex.of(kind) if region_of(m) == region]


def test_the_examples_are_production_with_a_certificate(example: Rendered) -> None:
    assert example.ctx.spec.is_production
    assert all(r.certificate_arn is not None and f":acm:{r.name}:" in r.certificate_arn for r in example.ctx.regions)


def test_no_listener_forwards_plain_http(example: Rendered) -> None:
    """Port 80 redirects to HTTPS (or, without a certificate, answers a fixed response): it never forwards."""
    for listener in example.of("LBListener"):
        actions = fp(listener)["defaultAction"]
        if fp(listener)["protocol"] == "HTTP":
            assert [a["type"] for a in actions] in (["redirect"], ["fixed-response"]), listener["metadata"]["name"]
            if actions[0]["type"] == "redirect":
                assert actions[0]["redirect"]["protocol"] == "HTTPS"
        else:
            assert fp(listener)["protocol"] == "HTTPS" and fp(listener)["certificateArn"]


def test_every_vpc_has_flow_logs_of_all_traffic_to_an_encrypted_group(example: Rendered) -> None:
    for r in example.ctx.regions:
        (flow,) = of_region(example, "FlowLog", r.name)
        f = fp(flow)
        assert f["vpcIdRef"] == {"name": names.vpc(example.ctx, r)}
        assert (f["trafficType"], f["logDestinationType"]) == ("ALL", "cloud-watch-logs")
        group = example.one("Group", f["logDestinationRef"]["name"])
        assert fp(group)["kmsKeyIdRef"] == own_key(example, r.name)
        role = example.one("Role", f["iamRoleArnRef"]["name"])
        (trust,) = json.loads(fp(role)["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
        assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:{r.name}:{ACCOUNT_ID}:vpc-flow-log/*"}
        (grant,) = json.loads(fp(example.one("RolePolicy", role["metadata"]["name"]))["policy"])["Statement"]
        group_arn = f"arn:aws:logs:{r.name}:{ACCOUNT_ID}:log-group:{group['metadata']['annotations'][EXTERNAL_NAME]}"
        assert sorted(grant["Resource"]) == [group_arn, f"{group_arn}:*"]


def test_alb_access_logs_go_to_a_dedicated_sse_s3_bucket_only_elb_may_write(example: Rendered) -> None:
    for r in example.ctx.regions:
        (lb,) = of_region(example, "LB", r.name)
        logs = fp(lb)["accessLogs"]
        assert logs["enabled"] is True
        bucket = logs["bucketRef"]["name"]
        assert bucket == logging.alb_logs_bucket(example.ctx, r) and region_of(example.one("Bucket", bucket)) == r.name
        statements = {s["Sid"]: s for s in json.loads(fp(example.one("BucketPolicy", bucket))["policy"])["Statement"]}
        allow = [s for s in statements.values() if s["Effect"] == "Allow"]
        assert allow == [statements["ElbLogDelivery"]]
        assert allow[0]["Action"] == "s3:PutObject"
        assert allow[0]["Resource"] == f"arn:aws:s3:::{bucket}/{logs['prefix']}/AWSLogs/{ACCOUNT_ID}/*"
        # us-east-1/2 and us-west-2 predate August 2022: the regional ELB account (AWS's table)
        assert allow[0]["Principal"] == {"AWS": f"arn:aws:iam::{ELB_LOG_DELIVERY_ACCOUNTS[r.name]}:root"}
        lifecycle = fp(example.one("BucketLifecycleConfiguration", bucket))["rule"]
        assert lifecycle[0]["expiration"] == [{"days": example.ctx.log_retention_days(r)}]


def test_waf_logs_to_an_aws_waf_logs_group_with_credentials_redacted(example: Rendered) -> None:
    for r in example.ctx.regions:
        (config,) = of_region(example, "WebACLLoggingConfiguration", r.name)
        c = fp(config)
        assert c["resourceArnRef"] == {"name": names.waf(example.ctx, r)}
        (destination,) = c["logDestinationConfigs"]
        prefix = f"arn:aws:logs:{r.name}:{ACCOUNT_ID}:log-group:"
        assert destination.startswith(prefix + "aws-waf-logs-")
        groups = [g for g in of_region(example, "Group", r.name)
                  if prefix + g["metadata"]["annotations"][EXTERNAL_NAME] == destination]
        assert len(groups) == 1 and fp(groups[0])["kmsKeyIdRef"] == own_key(example, r.name)
        assert {f["singleHeader"]["name"] for f in c["redactedFields"]} == {"authorization", "cookie"}


def test_database_logs_are_exported_to_pre_made_encrypted_groups(example: Rendered) -> None:
    for m in example.of("Instance"):
        r = example.ctx.region(region_of(m))
        assert fp(m)["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
        made = {g["metadata"]["annotations"][EXTERNAL_NAME] for g in of_region(example, "Group", r.name)}
        assert {f"/aws/rds/instance/{fp(m)['identifier']}/{log}" for log in ("postgresql", "upgrade")} <= made


def test_production_log_groups_keep_at_least_twelve_months(example: Rendered) -> None:
    groups = example.of("Group")
    assert groups
    assert all(fp(g)["retentionInDays"] >= 365 for g in groups)  # PCI DSS 10.5.1


def test_database_refuses_plain_connections_and_offers_iam_authentication(example: Rendered) -> None:
    for m in example.of("Instance"):
        group = example.one("ParameterGroup", fp(m)["parameterGroupNameRef"]["name"])
        assert region_of(group) == region_of(m)
        assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"} in fp(group)["parameter"]
        assert fp(m)["iamDatabaseAuthenticationEnabled"] is True
        assert fp(group)["family"] == f"postgres{database.engine_major(example.ctx)}"


def test_databases_keep_automated_backups_by_default(example: Rendered) -> None:
    """Issue 13: the provider default (delete_automated_backups = true) would take the backups with a deleted
    instance; every writable instance says false explicitly, whatever the lifecycle."""
    writable = [m for m in example.of("Instance") if "replicateSourceDb" not in fp(m)]
    assert writable
    assert all(fp(m)["deleteAutomatedBackups"] is False for m in writable)


def test_every_aws_name_carries_the_deployments_token(example: Rendered) -> None:
    """Issue 13: the MR name (which Crossplane uses as the external name when none is set) and every explicit
    external name carry the token of this deployment's namespace/name, so no other deployment can render it."""
    token = example.ctx.names.token
    for m in example.resources:
        assert token in m["metadata"]["name"], m["metadata"]["name"]
        external = (m["metadata"].get("annotations") or {}).get(EXTERNAL_NAME)
        if external is not None:
            assert token in external, (m["kind"], external)


def test_kms_encrypted_buckets_pin_the_region_key_and_keep_acls_off(example: Rendered) -> None:
    key_arns = {r.name: f"arn:aws:kms:{r.name}:{ACCOUNT_ID}:key/{names.kms_key(example.ctx, r)}"
                for r in example.ctx.regions}  # conftest's plausible_status
    for policy in example.of("BucketPolicy"):
        name, region = policy["metadata"]["name"], region_of(policy)
        statements = {s["Sid"]: s for s in json.loads(fp(policy)["policy"])["Statement"]}
        assert statements["KeepAclsDisabled"]["Effect"] == "Deny"
        if name == logging.alb_logs_bucket(example.ctx, example.ctx.region(region)):
            continue
        assert statements["DenyOtherKmsKey"]["Condition"] == {
            "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arns[region]}}


def test_replica_buckets_take_writes_from_the_replication_role_only(example: Rendered) -> None:
    ctx = example.ctx
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/{uploads.replication_role_name(ctx)}"
    for r in ctx.regions:
        doc = json.loads(fp(example.one("BucketPolicy", names.uploads_bucket(ctx, r)))["policy"])
        fences = [s for s in doc["Statement"] if s["Sid"] == "OnlyReplicationWritesReplicas"]
        if r.primary:
            assert fences == []
        else:
            assert [f["Condition"] for f in fences] == [{"ArnNotEquals": {"aws:PrincipalArn": role}}]
    (trust,) = json.loads(fp(example.one("Role", uploads.replication_role_name(ctx)))["assumeRolePolicy"])["Statement"]
    source = names.uploads_bucket(ctx, ctx.primary)
    assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": f"arn:aws:s3:::{source}"}


def test_key_policies_name_exactly_the_log_groups_of_their_region(example: Rendered) -> None:
    """The CloudWatch Logs statement lists every encrypted log group of the region, and nothing else."""
    for key in example.of("Key"):
        r = region_of(key)
        doc = json.loads(fp(key)["policy"])
        (logs,) = [s for s in doc["Statement"] if s["Sid"] == "CloudWatchLogsEncryptLogGroups"]
        listed = logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
        groups = {f"arn:aws:logs:{r}:{ACCOUNT_ID}:log-group:{g['metadata']['annotations'][EXTERNAL_NAME]}"
                  for g in of_region(example, "Group", r)}
        assert sorted(groups) == listed
        # AWS's documented statement for CloudWatch publishing to an encrypted topic carries no condition (issue 11)
        (alarms,) = [s for s in doc["Statement"] if s["Sid"] == "CloudWatchAlarmsPublishToEncryptedTopic"]
        assert "Condition" not in alarms
        assert keys.encrypted_log_group_arns(example.ctx, example.ctx.region(r)) == listed


def test_lambda_has_no_database_path(example: Rendered) -> None:
    """The payments handler never talks to the database: no rule lets the Lambda SG reach it, or it reach 5432."""
    for r in example.ctx.regions:
        lambda_sg, db_sg = (names.security_group(example.ctx, r, role) for role in ("lambda", "database"))
        for m in example.of("SecurityGroupIngressRule") + example.of("SecurityGroupEgressRule"):
            pair = {fp(m)["securityGroupIdRef"]["name"], fp(m).get("referencedSecurityGroupIdRef", {}).get("name")}
            assert pair != {lambda_sg, db_sg}, m["metadata"]["name"]
            if fp(m)["securityGroupIdRef"]["name"] == lambda_sg:
                assert fp(m)["fromPort"] == fp(m)["toPort"] == 443


def test_gateway_endpoints_for_s3_and_dynamodb_on_every_private_route_table(example: Rendered) -> None:
    ctx = example.ctx
    for r in ctx.regions:
        found = {fp(e)["serviceName"]: e for e in of_region(example, "VPCEndpoint", r.name)}
        assert set(found) == {f"com.amazonaws.{r.name}.s3", f"com.amazonaws.{r.name}.dynamodb"}
        for endpoint in found.values():
            assert fp(endpoint)["vpcEndpointType"] == "Gateway"
            assert fp(endpoint)["vpcIdRef"] == {"name": names.vpc(ctx, r)}
            tables = {fp(a)["routeTableIdRef"]["name"] for a in of_region(example, "VPCEndpointRouteTableAssociation",
                                                                           r.name)
                      if fp(a)["vpcEndpointIdRef"] == {"name": endpoint["metadata"]["name"]}}
            assert tables == {names.private_route_table(ctx, r, i) for i in range(3)}
            for statement in json.loads(fp(endpoint)["policy"])["Statement"]:
                assert statement["Effect"] == "Allow" and "*" not in _list(statement["Resource"])
        dynamodb = json.loads(endpoints.dynamodb_policy(ctx, r))["Statement"]
        assert [s["Resource"] for s in dynamodb] == [f"arn:aws:dynamodb:{r.name}:{ACCOUNT_ID}:table/"
                                                     f"{names.ledger_table(ctx)}"]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        if node.startswith("{") or node.startswith("["):
            try:
                yield from _strings(json.loads(node))
                return
            except ValueError:
                pass
        yield node


def test_arns_carry_the_partition_of_their_region(defaults: RegionDefaults,
                                                  observe_all: Callable[[dict[str, Any]], Observed]) -> None:
    """A GovCloud deployment renders no `arn:aws:` ARN (issue 13: the partition was hard-coded)."""
    regions = [{"name": n, "primary": n == "us-gov-west-1", "vpcCidr": c,
                "availabilityZones": [f"{n}{z}" for z in "abc"], "paymentsApiEndpoint": f"https://pay.{n}.example"}
               for n, c in (("us-gov-west-1", "10.10.0.0/16"), ("us-gov-east-1", "10.20.0.0/16"))]
    cr = {"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
          "metadata": {"name": "payments", "namespace": "payments"},
          "spec": {"environment": "prod", "environmentSuffix": "prod", "awsAccountId": ACCOUNT_ID, "costCenter": "c",
                   "regions": [{**r, "certificateArn": f"arn:aws-us-gov:acm:{r['name']}:{ACCOUNT_ID}:certificate/x"}
                               for r in regions]}}
    observed = Observed.from_objects(
        {"kind": o.kind, "metadata": {"name": o.name},
         "status": {"atProvider": {k: v.replace("arn:aws:", "arn:aws-us-gov:") if isinstance(v, str) else v
                                   for k, v in o.at_provider.items()},
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]}}
        for o in observe_all(cr).resources.values())
    result = render(cr, defaults, observed, FAKE_ARTIFACT)
    arns = [s for mr in result.resources for s in _strings(fp(mr)) if s.startswith("arn:")]
    assert len(arns) > 50
    assert [a for a in arns if not a.startswith("arn:aws-us-gov:")] == []


def test_cel_and_the_model_agree_on_what_production_is() -> None:
    """The CRD's CEL rule on spec names the same environments as spec.PRODUCTION_ENVIRONMENTS."""
    crd = yaml.safe_load((EXAMPLES.parent / "crds" / "platform.regional.io_regionaldeployments.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    (rule,) = [v for v in spec["x-kubernetes-validations"] if v.get("fieldPath") == ".edge.certificateArn"
               and v.get("reason") == "FieldValueRequired"]
    assert f"self.environment in {list(PRODUCTION_ENVIRONMENTS)}" in rule["rule"].replace('"', "'")


@pytest.mark.parametrize(("key", "days", "words"), [
    ("productionLogRetentionDays", 180, "at least 365"),
    ("productionLogRetentionDays", 366, "not a CloudWatch Logs retention period"),
    ("logRetentionDays", 45, "not a CloudWatch Logs retention period"),
])
def test_region_defaults_refuse_retention_under_a_year_in_production(key: str, days: int, words: str) -> None:
    text = (EXAMPLES.parent / "operator" / "regional_operator" / "data" / "region-defaults.yaml").read_text()
    doc = yaml.safe_load(text)
    doc["common"][key] = days
    cr = yaml.safe_load((EXAMPLES / "two-region.yaml").read_text(encoding="utf-8"))
    with pytest.raises(SpecValidationError) as refused:
        render(cr, parse_defaults(yaml.safe_dump(doc)))
    assert refused.value.field == f"spec.regions[0].{key}" and words in refused.value.rule

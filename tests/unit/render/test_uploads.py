"""The uploads builder: a hardened, versioned SSE-KMS bucket per region, replicated primary -> secondaries only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from regional_operator.render import names, uploads

from tests.crdschema import validate_mr
from tests.unit.render.conftest import ACCOUNT_ID, fake_key_arn, of_component, one

BUCKET_KINDS = ["Bucket", "BucketVersioning", "BucketServerSideEncryptionConfiguration", "BucketLifecycleConfiguration",
                "BucketPublicAccessBlock", "BucketPolicy"]


def _render(render_cr: Any, cr: dict[str, Any], observed: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    result = render_cr(cr, observed)
    return of_component(result, "uploads"), [str(p) for p in result.pending]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("regions", [2, 3])
@pytest.mark.parametrize("lifecycle", ["Delete", "Retain"])
@pytest.mark.parametrize("observed", [True, False])
def test_every_mr_validates(make_cr: Any, render_cr: Any, data_store_observed: Any, regions: int, lifecycle: str,
                            observed: bool) -> None:
    cr = make_cr(regions, lifecycle=lifecycle)
    mrs, _ = _render(render_cr, cr, data_store_observed(cr) if observed else None)
    # six bucket MRs per region (the policy pins the key's ARN, so it waits for it), the role, and once keys are
    # known the role policy and the replication config
    assert len(mrs) == (6 if observed else 5) * regions + (3 if observed else 1)
    for mr in mrs:
        assert validate_mr(mr) == []


def test_bucket_settings_per_region(make_cr: Any, render_cr: Any, context_for: Any, data_store_observed: Any) -> None:
    cr = make_cr(2, uploads={"transitionToInfrequentAccessDays": 45, "noncurrentVersionExpirationDays": 120})
    ctx = context_for(cr)
    mrs, _ = _render(render_cr, cr, data_store_observed(cr))
    for r in ctx.regions:
        name = names.uploads_bucket(ctx, r)
        sub = {kind: one(mrs, kind, name) for kind in BUCKET_KINDS}
        for kind, mr in sub.items():
            assert mr["spec"]["forProvider"]["region"] == r.name
            if kind != "Bucket":
                assert mr["spec"]["forProvider"]["bucketRef"] == {"name": name}
        assert sub["Bucket"]["metadata"]["annotations"]["crossplane.io/external-name"] == name
        assert sub["Bucket"]["spec"]["forProvider"]["forceDestroy"] is True
        assert sub["BucketVersioning"]["spec"]["forProvider"]["versioningConfiguration"] == {"status": "Enabled"}

        (rule,) = sub["BucketServerSideEncryptionConfiguration"]["spec"]["forProvider"]["rule"]
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyIdRef": {"name": names.kms_key(ctx, r)}}
        assert rule["bucketKeyEnabled"] is True

        pab = sub["BucketPublicAccessBlock"]["spec"]["forProvider"]
        assert all(pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                            "restrictPublicBuckets"))

        rules = sub["BucketLifecycleConfiguration"]["spec"]["forProvider"]["rule"]
        assert all(x["status"] == "Enabled" for x in rules)
        assert [t for x in rules for t in x.get("transition", [])] == [{"days": 45, "storageClass": "STANDARD_IA"}]
        assert [t for x in rules for t in x.get("noncurrentVersionExpiration", [])] == [{"noncurrentDays": 120}]
        assert [t for x in rules for t in x.get("abortIncompleteMultipartUpload", [])] == [{"daysAfterInitiation": 7}]


def test_bucket_policy_denies_plain_http_and_non_kms_puts(two_region_cr: dict[str, Any], render_cr: Any,
                                                          context_for: Any, data_store_observed: Any) -> None:
    ctx = context_for(two_region_cr)
    mrs, _ = _render(render_cr, two_region_cr, data_store_observed(two_region_cr))
    for r in ctx.regions:
        name = names.uploads_bucket(ctx, r)
        doc = json.loads(one(mrs, "BucketPolicy", name)["spec"]["forProvider"]["policy"])
        statements = {s["Sid"]: s for s in doc["Statement"]}
        assert all(s["Effect"] == "Deny" for s in statements.values())  # the policy grants nothing
        tls = statements["DenyInsecureTransport"]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert set(tls["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
        assert statements["DenyNonKmsEncryption"]["Condition"] == {
            "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
        assert statements["DenyMissingEncryptionHeader"]["Condition"] == {
            "Null": {"s3:x-amz-server-side-encryption": "true"}}
        # the region's own key, by ARN: `aws:kms` without a key id would get the AWS managed key aws/s3
        assert statements["DenyOtherKmsKey"]["Condition"] == {"StringNotEquals": {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": fake_key_arn(r.name, names.kms_key(ctx, r))}}
        for sid in ("DenyNonKmsEncryption", "DenyMissingEncryptionHeader", "DenyOtherKmsKey"):
            assert statements[sid]["Action"] == "s3:PutObject"
            assert statements[sid]["Resource"] == f"arn:aws:s3:::{name}/*"
        assert statements["KeepAclsDisabled"]["Action"] == ["s3:PutBucketAcl", "s3:PutBucketOwnershipControls"]
        assert statements["KeepAclsDisabled"]["Resource"] == f"arn:aws:s3:::{name}"


def test_bucket_policy_waits_for_the_key_arn(two_region_cr: dict[str, Any], render_cr: Any, context_for: Any) -> None:
    ctx = context_for(two_region_cr)
    mrs, pending = _render(render_cr, two_region_cr)
    assert not [m for m in mrs if m["kind"] == "BucketPolicy"]
    for r in ctx.regions:
        key = names.kms_key(ctx, r)
        assert f"BucketPolicy/{names.uploads_bucket(ctx, r)} waits for Key/{key} status.atProvider.arn" in pending


def test_only_the_replication_role_writes_or_deletes_replica_objects(three_region_cr: dict[str, Any],
                                                                    render_cr: Any, context_for: Any,
                                                                    data_store_observed: Any) -> None:
    ctx = context_for(three_region_cr)
    mrs, _ = _render(render_cr, three_region_cr, data_store_observed(three_region_cr))
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{uploads.replication_role_name(ctx)}"
    for r in ctx.regions:
        name = names.uploads_bucket(ctx, r)
        statements = {s["Sid"]: s for s in json.loads(one(mrs, "BucketPolicy", name)["spec"]["forProvider"]["policy"])
                      ["Statement"]}
        if r.primary:
            assert "OnlyReplicationWritesReplicas" not in statements  # the primary takes the application's writes
            continue
        fence = statements["OnlyReplicationWritesReplicas"]
        assert (fence["Effect"], fence["Principal"], fence["Resource"]) == ("Deny", "*", f"arn:aws:s3:::{name}/*")
        assert fence["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role_arn}}
        assert {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ReplicateObject",
                "s3:ReplicateDelete"} <= set(fence["Action"])


def test_replication_waits_for_every_key_arn(two_region_cr: dict[str, Any], render_cr: Any, context_for: Any) -> None:
    ctx = context_for(two_region_cr)
    mrs, pending = _render(render_cr, two_region_cr)
    role = uploads.replication_role_name(ctx)
    assert one(mrs, "Role", role)
    assert not [m for m in mrs if m["kind"] in ("RolePolicy", "BucketReplicationConfiguration")]
    source = names.uploads_bucket(ctx, ctx.primary)
    for r in ctx.regions:
        waits = f"waits for Key/{names.kms_key(ctx, r)} status.atProvider.arn"
        assert f"RolePolicy/{role} {waits}" in pending
        assert f"BucketReplicationConfiguration/{source} {waits}" in pending


def test_replication_goes_from_the_primary_to_each_secondary_only(three_region_cr: dict[str, Any], render_cr: Any,
                                                                  context_for: Any, data_store_observed: Any) -> None:
    ctx = context_for(three_region_cr)
    mrs, pending = _render(render_cr, three_region_cr, data_store_observed(three_region_cr))
    assert not [p for p in pending if p.startswith(("RolePolicy/s3-replication", "BucketReplicationConfiguration/"))]
    configs = [m for m in mrs if m["kind"] == "BucketReplicationConfiguration"]
    assert len(configs) == 1  # never from a secondary back
    (config,) = configs
    source = names.uploads_bucket(ctx, ctx.primary)
    fp = config["spec"]["forProvider"]
    assert fp["region"] == ctx.primary.name
    assert fp["bucketRef"] == {"name": source}
    assert fp["roleRef"] == {"name": uploads.replication_role_name(ctx)}
    rules = fp["rule"]
    assert [x["destination"]["bucketRef"] for x in rules] == [
        {"name": names.uploads_bucket(ctx, r)} for r in ctx.secondaries]
    assert len({x["priority"] for x in rules}) == len(rules) == 2
    assert len({x["id"] for x in rules}) == len(rules)
    for rule, r in zip(rules, ctx.secondaries, strict=True):
        assert rule["status"] == "Enabled"
        assert rule["filter"] == {"prefix": ""}
        assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
        assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
        # the destination region's own key, as the ARN S3 needs (not the primary's, not a key id)
        key = names.kms_key(ctx, r)
        assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": fake_key_arn(r.name, key)}


def test_replication_role_is_least_privilege(three_region_cr: dict[str, Any], render_cr: Any, context_for: Any,
                                             data_store_observed: Any) -> None:
    ctx = context_for(three_region_cr)
    mrs, _ = _render(render_cr, three_region_cr, data_store_observed(three_region_cr))
    role_name = uploads.replication_role_name(ctx)
    role = one(mrs, "Role", role_name)
    assert "region" not in role["spec"]["forProvider"]  # IAM is global
    trust = json.loads(role["spec"]["forProvider"]["assumeRolePolicy"])
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}
    assert stmt["Action"] == "sts:AssumeRole"
    source_arn = f"arn:aws:s3:::{names.uploads_bucket(ctx, ctx.primary)}"
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID},  # confused-deputy guard
                                 "ArnEquals": {"aws:SourceArn": source_arn}}

    policy_mr = one(mrs, "RolePolicy", role_name)
    assert policy_mr["spec"]["forProvider"]["roleRef"] == {"name": role_name}
    doc = json.loads(policy_mr["spec"]["forProvider"]["policy"])
    statements = doc["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = [a for s in statements for a in _as_list(s["Action"])]
    resources = [x for s in statements for x in _as_list(s["Resource"])]
    assert all("*" not in a for a in actions)
    assert "*" not in resources and all(not x.endswith(":*") for x in resources)

    source = f"arn:aws:s3:::{names.uploads_bucket(ctx, ctx.primary)}"
    dests = [f"arn:aws:s3:::{names.uploads_bucket(ctx, r)}" for r in ctx.secondaries]
    keys = {r.name: fake_key_arn(r.name, names.kms_key(ctx, r)) for r in ctx.regions}
    assert set(resources) == {source, f"{source}/*", *(f"{d}/*" for d in dests), *keys.values()}

    def grants(resource: str) -> set[str]:
        return {a for s in statements if resource in _as_list(s["Resource"]) for a in _as_list(s["Action"])}

    assert grants(source) == {"s3:GetReplicationConfiguration", "s3:ListBucket"}
    assert grants(f"{source}/*") == {"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                     "s3:GetObjectVersionTagging"}
    for d in dests:
        assert grants(f"{d}/*") == {"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}
    assert grants(keys[ctx.primary.name]) == {"kms:Decrypt"}
    for r in ctx.secondaries:
        assert grants(keys[r.name]) == {"kms:Encrypt", "kms:GenerateDataKey"}
    for s in statements:
        if any(a.startswith("kms:") for a in _as_list(s["Action"])):
            region = next(r.name for r in ctx.regions if keys[r.name] == s["Resource"])
            assert s["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{region}.amazonaws.com"}


@pytest.mark.parametrize(("lifecycle", "force_destroy"), [("Delete", True), ("Retain", False)])
def test_lifecycle(make_cr: Any, render_cr: Any, context_for: Any, data_store_observed: Any, lifecycle: str,
                   force_destroy: bool) -> None:
    cr = make_cr(2, lifecycle=lifecycle)
    ctx = context_for(cr)
    mrs, _ = _render(render_cr, cr, data_store_observed(cr))
    for r in ctx.regions:
        bucket = one(mrs, "Bucket", names.uploads_bucket(ctx, r))
        assert bucket["spec"]["forProvider"]["forceDestroy"] is force_destroy
        policies = bucket["spec"]["managementPolicies"]
        assert ("Delete" not in policies and "*" not in policies) if lifecycle == "Retain" else policies == ["*"]
    # Settings and wiring are not data: they stay fully managed either way.
    assert all(m["spec"]["managementPolicies"] == ["*"] for m in mrs if m["kind"] != "Bucket")


def test_replication_waits_for_versioning_on_every_bucket(three_region_cr: dict[str, Any], render_cr: Any,
                                                          context_for: Any, data_store_observed: Any) -> None:
    """S3 refuses a replication configuration until versioning is enabled on the source and every destination
    (finding 10): with the keys known but versioning not yet Ready, only the role policy is rendered."""
    ctx = context_for(three_region_cr)
    mrs, pending = _render(render_cr, three_region_cr, data_store_observed(three_region_cr, versioning=False))
    source = names.uploads_bucket(ctx, ctx.primary)
    assert one(mrs, "RolePolicy", uploads.replication_role_name(ctx))
    assert not [m for m in mrs if m["kind"] == "BucketReplicationConfiguration"]
    for r in ctx.regions:
        assert f"BucketReplicationConfiguration/{source} waits for BucketVersioning/{names.uploads_bucket(ctx, r)} " \
               "Ready" in pending

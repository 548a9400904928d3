"""Builder: the uploads bucket in every region and its one-way replication from the primary to each secondary.

Per region: the shared hardened bucket (storage.hardened_bucket): `Bucket` + `BucketVersioning` +
`BucketServerSideEncryptionConfiguration` (SSE-KMS with the region's own key, bucket keys on) +
`BucketLifecycleConfiguration` + `BucketPublicAccessBlock` + `BucketPolicy` (TLS only, PutObject only with SSE-KMS;
see storage.py). The sub-setting MRs share the bucket's name (different kinds) and point at it with `bucketRef`.

Replication, primary -> every secondary, never back (a secondary is a DR copy, not a writer):
- an IAM `Role` S3 assumes (trust limited to this account) and a least-privilege `RolePolicy` that names exactly
  the source bucket, the destination buckets and their keys - KMS Decrypt with the source key, Encrypt and
  GenerateDataKey with each destination key, each only via S3 in that key's region;
- one `BucketReplicationConfiguration` on the primary bucket with a rule (filter on every object, priority = the
  destination region's number from aws_facts.AWS_REGIONS, so adding or removing a region changes only its own
  rule) per secondary. SSE-KMS objects are selected explicitly and re-encrypted with the destination
  region's key (`replicaKmsKeyId`).
- Delete markers are NOT replicated (`deleteMarkerReplication: Disabled`): a delete in the primary, accidental
  or malicious, does not remove the DR copy; versioning keeps every version on both sides, and lifecycle
  expires noncurrent versions on each side independently.

After a failover (spec.failover) the promoted region is no longer a destination: replication into the new primary
stops (with no destination left, the configuration and the role policy are no longer rendered and are pruned).

Observed values: KMS key ARNs are unpredictable (the key id is random), and both the role policy and
`replicaKmsKeyId` need them as literals: `replicaKmsKeyIdRef` copies the key id, which S3 would resolve in the
*source* region. Until every key's ARN is observed, neither the RolePolicy nor the replication configuration is
rendered (each records a Pending). Bucket ARNs are deterministic (`arn:<partition>:s3:::<name>`). Versioning, which
S3 requires on both sides before it accepts a replication configuration, must also be Ready on every bucket: the
configuration waits for it rather than start in a refusal loop.
"""

from __future__ import annotations

from typing import Any, Final

from . import names
from .adoption import Blocked
from .context import Pending, Region, RenderContext, policy_json, ref
from .storage import ALL_OBJECTS, bucket_arn, hardened_bucket

COMPONENT: Final = "uploads"


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in ctx.regions:
        out += bucket(ctx, r)
    if ctx.secondaries:
        out += replication(ctx)
    return out


def bucket(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    """The bucket and its settings, identical in every region (replicas need the same versioning and fences);
    a secondary's bucket takes object writes and deletes from the replication role only."""
    # A promoted replica (spec.failover) is no longer a destination and takes the application's writes again.
    writer = replication_role_arn(ctx) if r in replication_targets(ctx) else None
    return hardened_bucket(ctx, r, names.uploads_bucket(ctx, r), component=COMPONENT, replica_writer=writer,
                           aws_name=names.uploads_bucket_name(ctx, r))


def replication_targets(ctx: RenderContext) -> tuple[Region, ...]:
    """The destinations: every secondary but the one a failover promoted (nothing replicates into a primary)."""
    return tuple(r for r in ctx.secondaries if r is not ctx.promoted)


def replication_role_name(ctx: RenderContext) -> str:
    return ctx.names.named("replication-role", ctx.primary.name)


def replication_role_arn(ctx: RenderContext) -> str:
    return ctx.arn("iam", ctx.primary, f"role/{replication_role_name(ctx)}", regional=False)


def replication(ctx: RenderContext) -> list[dict[str, Any]]:
    """Role always; RolePolicy and the replication configuration once every key ARN is observed."""
    primary, role = ctx.primary, replication_role_name(ctx)
    source = names.uploads_bucket(ctx, primary)
    source_name = names.uploads_bucket_name(ctx, primary)
    out = [ctx.mr("iam/Role", role, region=primary, component=COMPONENT, external_name=role, for_provider={
        "description": f"S3 replication of {source_name} to the secondary regions",
        "assumeRolePolicy": policy_json([{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
            # S3 assumes the role for this bucket's replication only (confused-deputy guard, S3 replication guide)
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.spec.aws_account_id},
                          "ArnEquals": {"aws:SourceArn": bucket_arn(source_name, primary)}},
        }]),
    })]
    before = len(ctx.pending)
    key_arns = {r.name: ctx.observed_value("Key", names.kms_key(ctx, r), "arn", needed_by=("RolePolicy", role))
                for r in ctx.regions}
    known = {region: arn for region, arn in key_arns.items() if arn is not None}
    if len(known) != len(key_arns):
        for waiting in ctx.pending[before:]:
            ctx.pending.append(Pending("BucketReplicationConfiguration", source, waiting.waits_for))
        return out
    if not replication_targets(ctx):
        return out
    policy = ctx.mr("iam/RolePolicy", role, region=primary, component=COMPONENT, external_name=role, for_provider={
        "roleRef": ref(role),
        "policy": replication_policy(ctx, known),
    })
    out.append(policy)
    # S3 refuses a replication configuration unless versioning is enabled on the source and every destination
    # (PutBucketReplication: InvalidRequest), so it waits for each bucket's BucketVersioning to be Ready.
    if not _adopted_source_replicable(ctx, source):
        return out
    versioned = [ctx.observed_ready("BucketVersioning", names.uploads_bucket(ctx, r),
                                    needed_by=("BucketReplicationConfiguration", source)) for r in ctx.regions]
    if not all(versioned):
        return out
    out.append(ctx.mr("s3/BucketReplicationConfiguration", source, region=primary, component=COMPONENT, for_provider={
        "bucketRef": ref(source),
        "roleRef": ref(role),
        "rule": [
            {
                "id": f"to-{r.name}",
                "priority": r.number,
                "status": "Enabled",
                "filter": dict(ALL_OBJECTS),
                "deleteMarkerReplication": {"status": "Disabled"},
                "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                "destination": {
                    "bucketRef": ref(names.uploads_bucket(ctx, r)),
                    "encryptionConfiguration": {"replicaKmsKeyId": known[r.name]},
                },
            }
            for r in replication_targets(ctx)
        ],
    }))
    return out


def _adopted_source_replicable(ctx: RenderContext, source: str) -> bool:
    """An adopted source bucket must be versioned (S3 refuses replication otherwise: PutBucketReplication
    InvalidRequest) and in Manage (the replication configuration is a setting of the adopted bucket, which Observe
    never changes). Either missing: Blocked, naming what must change first; nothing is changed silently."""
    adopted = ctx.adopted.get(("s3/Bucket", source))
    if adopted is None:
        return True
    versioning = ctx.observed.raw_attribute("BucketVersioning", source, "versioningConfiguration")
    if not isinstance(versioning, dict):  # not reported yet
        ctx.pending.append(Pending("BucketReplicationConfiguration", source,
                                   f"BucketVersioning/{source} status.atProvider.versioningConfiguration"))
        return False
    status = versioning.get("status")
    if status != "Enabled":
        ctx.blocked.append(Blocked("BucketReplicationConfiguration", source, adopted.field, (
            f"the adopted bucket {adopted.identifier} is not versioned (versioning {status or 'off'}); S3 "
            "replicates only versioned buckets: enable versioning on it in AWS, or set adopt.uploadsBucket.mode: "
            "Manage (which enables it)")))
        return False
    if adopted.observe_only:
        ctx.blocked.append(Blocked("BucketReplicationConfiguration", source, adopted.field, (
            f"replication from the adopted bucket {adopted.identifier} is a setting of that bucket: set "
            "adopt.uploadsBucket.mode: Manage to add it (Observe changes nothing)")))
        return False
    return True


def _kms_conditions(r: Region, bucket: str) -> dict[str, Any]:
    """Use the key only through S3 in its region, and only for this bucket's objects (object ARN without bucket
    keys, bucket ARN with them)."""
    arn = bucket_arn(bucket, r)
    return {"StringEquals": {"kms:ViaService": f"s3.{r.name}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]}}


def replication_policy(ctx: RenderContext, key_arns: dict[str, str]) -> str:
    """Least privilege for S3 replication: every Resource is an exact bucket, object path or key ARN."""
    primary = ctx.primary
    source = names.uploads_bucket_name(ctx, primary)
    destinations = [(r, names.uploads_bucket_name(ctx, r)) for r in replication_targets(ctx)]
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadSourceReplicationConfiguration", "Effect": "Allow",
         "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": bucket_arn(source, primary)},
        {"Sid": "ReadSourceObjectVersions", "Effect": "Allow",
         "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
         "Resource": f"{bucket_arn(source, primary)}/*"},
        {"Sid": "WriteReplicas", "Effect": "Allow",
         "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
         "Resource": [f"{bucket_arn(dest, r)}/*" for r, dest in destinations]},
        {"Sid": "DecryptSourceObjects", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": key_arns[primary.name], "Condition": _kms_conditions(primary, source)},
    ]
    for r, dest in destinations:
        statements.append({
            "Sid": f"EncryptReplicasIn{r.code}", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": key_arns[r.name], "Condition": _kms_conditions(r, dest),
        })
    return policy_json(statements)

"""Shared S3 hardening: every bucket we own is SSE-KMS with its region's key, blocks public access, refuses
non-TLS requests and any PutObject not encrypted with exactly the region's key, keeps ACLs off, and (by default)
is versioned with a lifecycle. One function, so no bucket can miss a fence (the uploads buckets and the Lambda
artifacts buckets both use it; the ALB access-log bucket, which cannot be SSE-KMS, is in logging.py).

Bucket policy (deny-only):
- any request without TLS;
- any PutObject that does not name the region's key by ARN in `x-amz-server-side-encryption-aws-kms-key-id`.
  `aws:kms` alone is not enough: S3 encrypts a PutObject that asks for SSE-KMS without a key id with the AWS
  managed key `aws/s3`, not the bucket's default key
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). Clients send both headers (SDKs:
  ServerSideEncryption="aws:kms", SSEKMSKeyId=<key ARN>; presigned URLs must sign them).
- re-enabling ACLs (s3:PutBucketOwnershipControls): new buckets are created BucketOwnerEnforced (ACLs disabled,
  the S3 default since April 2023), and the provider kind BucketOwnershipControls is not in the CRD set this
  project renders against, so the policy keeps the default from being changed.
- on a replica bucket, every object write and delete by anyone but the replication role
  (`replica_writer`): the DR copy is written by S3 replication only.
The key ARN is random (chosen by KMS), so the policy waits for the key's observed ARN (a Pending).
S3 replication writes with s3:ReplicateObject, which the encryption statements do not touch.
"""

from __future__ import annotations

from typing import Any, Final

from . import names
from .context import Region, RenderContext, policy_json, ref

ABORT_INCOMPLETE_MULTIPART_DAYS: Final = 7
ALL_OBJECTS: Final = {"prefix": ""}  # an explicit filter makes the rules V2 (needed for delete marker settings)
# Every S3 action that writes or deletes an object or its metadata (a replica accepts them from replication only).
OBJECT_WRITE_ACTIONS: Final = (
    "s3:DeleteObject", "s3:DeleteObjectTagging", "s3:DeleteObjectVersion", "s3:DeleteObjectVersionTagging",
    "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl", "s3:PutObjectVersionTagging", "s3:ReplicateDelete", "s3:ReplicateObject",
    "s3:ReplicateTags", "s3:RestoreObject",
)


def bucket_arn(name: str, r: Region) -> str:
    """S3 bucket ARNs carry no region or account, but they do carry the partition of the bucket's region."""
    return f"arn:{r.partition}:s3:::{name}"


def deny_insecure_transport(arn: str) -> dict[str, Any]:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def deny_acl_reenable(arn: str) -> dict[str, Any]:
    return {"Sid": "KeepAclsDisabled", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:PutBucketAcl", "s3:PutBucketOwnershipControls"], "Resource": arn}


def bucket_policy(name: str, r: Region, key_arn: str, replica_writer: str | None = None) -> str:
    """Deny-only: the policy grants nothing (same-account access goes through IAM), it only adds fences."""
    arn = bucket_arn(name, r)
    statements = [
        deny_insecure_transport(arn),
        {"Sid": "DenyNonKmsEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{arn}/*", "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "DenyMissingEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{arn}/*", "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
        {"Sid": "DenyOtherKmsKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{arn}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}},
        deny_acl_reenable(arn),
    ]
    if replica_writer is not None:
        statements.append({
            "Sid": "OnlyReplicationWritesReplicas", "Effect": "Deny", "Principal": "*",
            "Action": list(OBJECT_WRITE_ACTIONS), "Resource": f"{arn}/*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": replica_writer}},
        })
    return policy_json(statements)


def hardened_bucket(ctx: RenderContext, r: Region, bucket: str, *, component: str, versioned: bool = True,
                    lifecycle: bool = True, replica_writer: str | None = None,
                    aws_name: str | None = None) -> list[dict[str, Any]]:
    """The Bucket MR and its sub-setting MRs (same name, different kinds, each pointing at it with `bucketRef`):
    Bucket, [BucketVersioning], BucketServerSideEncryptionConfiguration, [BucketLifecycleConfiguration],
    BucketPublicAccessBlock, BucketPolicy (once the region key's ARN is observed). `replica_writer`: the ARN of
    the only principal that may write objects (a replication destination). `aws_name`: the bucket's name in AWS
    when it is not the MR's (an adopted bucket)."""
    aws_name = aws_name or bucket

    def sub(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        return ctx.mr(f"s3/{kind}", bucket, region=r, component=component,
                      for_provider={"bucketRef": ref(bucket)} | settings)

    out = [ctx.mr("s3/Bucket", bucket, region=r, component=component, external_name=bucket, for_provider={
        # Delete lifecycle: a bucket that still holds objects (and versions) must delete too.
        "forceDestroy": ctx.spec.lifecycle == "Delete",
    })]
    if versioned:
        out.append(sub("BucketVersioning", {"versioningConfiguration": {"status": "Enabled"}}))
    out.append(sub("BucketServerSideEncryptionConfiguration", {"rule": [{
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                               "kmsMasterKeyIdRef": ref(names.kms_key(ctx, r))},
        "bucketKeyEnabled": True,
    }]}))
    if lifecycle:
        up = ctx.spec.uploads
        out.append(sub("BucketLifecycleConfiguration", {"rule": [
            {"id": "current-to-standard-ia", "status": "Enabled", "filter": [dict(ALL_OBJECTS)],
             "transition": [{"days": up.transition_to_infrequent_access_days, "storageClass": "STANDARD_IA"}]},
            {"id": "expire-noncurrent-versions", "status": "Enabled", "filter": [dict(ALL_OBJECTS)],
             "noncurrentVersionExpiration": [{"noncurrentDays": up.noncurrent_version_expiration_days}]},
            {"id": "abort-incomplete-multipart-uploads", "status": "Enabled", "filter": [dict(ALL_OBJECTS)],
             "abortIncompleteMultipartUpload": [{"daysAfterInitiation": ABORT_INCOMPLETE_MULTIPART_DAYS}]},
        ]}))
    out.append(sub("BucketPublicAccessBlock", {"blockPublicAcls": True, "blockPublicPolicy": True,
                                               "ignorePublicAcls": True, "restrictPublicBuckets": True}))
    key_arn = ctx.observed_value("Key", names.kms_key(ctx, r), "arn", needed_by=("BucketPolicy", bucket))
    if key_arn is not None:
        out.append(sub("BucketPolicy", {"policy": bucket_policy(aws_name, r, key_arn, replica_writer)}))
    return out

"""Shared S3 hardening: every bucket we own is SSE-KMS with its region's key, blocks public access, refuses
non-TLS requests and any PutObject that does not ask for SSE-KMS, and (by default) is versioned with a lifecycle.
One function, so no bucket can miss a fence (the uploads buckets and the Lambda artifacts buckets both use it).

Bucket policy: denies any request without TLS, and any PutObject that does not ask for SSE-KMS - clients must
send `x-amz-server-side-encryption: aws:kms` (SDKs: ServerSideEncryption="aws:kms"; presigned URLs must sign it;
the provider's `s3` `Object` sets `serverSideEncryption: aws:kms`). S3 replication writes with
s3:ReplicateObject, which these statements do not touch.
"""

from __future__ import annotations

from typing import Any, Final

from . import names
from .context import Region, RenderContext, policy_json, ref

ABORT_INCOMPLETE_MULTIPART_DAYS: Final = 7
ALL_OBJECTS: Final = {"prefix": ""}  # an explicit filter makes the rules V2 (needed for delete marker settings)


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def bucket_policy(name: str) -> str:
    """Deny-only: the policy grants nothing (same-account access goes through IAM), it only adds fences."""
    arn = bucket_arn(name)
    return policy_json([
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyNonKmsEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{arn}/*", "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "DenyMissingEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{arn}/*", "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
    ])


def hardened_bucket(ctx: RenderContext, r: Region, bucket: str, *, component: str, versioned: bool = True,
                    lifecycle: bool = True) -> list[dict[str, Any]]:
    """The Bucket MR and its sub-setting MRs (same name, different kinds, each pointing at it with `bucketRef`):
    Bucket, [BucketVersioning], BucketServerSideEncryptionConfiguration, [BucketLifecycleConfiguration],
    BucketPublicAccessBlock, BucketPolicy."""

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
    out.append(sub("BucketPolicy", {"policy": bucket_policy(bucket)}))
    return out

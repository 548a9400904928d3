"""Shared S3 hardening: every bucket we own is SSE-KMS with its region's key, blocks public access, refuses
non-TLS requests, and (by default) is versioned with a lifecycle. One function, so no bucket can miss a fence."""

from __future__ import annotations

from typing import Any

from . import names
from .context import Region, RenderContext, policy_json, ref


def hardened_bucket(ctx: RenderContext, r: Region, bucket: str, *, component: str, versioned: bool = True,
                    lifecycle: bool = True) -> list[dict[str, Any]]:
    """The Bucket MR and its sub-setting MRs (same name, different kinds)."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    out = [
        ctx.mr("s3/Bucket", bucket, region=r, component=component, external_name=bucket, for_provider={
            # Delete lifecycle: a non-empty bucket must still delete (test accounts are torn down whole).
            "forceDestroy": ctx.spec.lifecycle == "Delete",
        }),
        ctx.mr("s3/BucketServerSideEncryptionConfiguration", bucket, region=r, component=component, for_provider={
            "bucketRef": ref(bucket),
            "rule": [{"applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms", "kmsMasterKeyIdRef": ref(names.kms_key(ctx, r))},
                "bucketKeyEnabled": True}],
        }),
        ctx.mr("s3/BucketPublicAccessBlock", bucket, region=r, component=component, for_provider={
            "bucketRef": ref(bucket), "blockPublicAcls": True, "blockPublicPolicy": True,
            "ignorePublicAcls": True, "restrictPublicBuckets": True,
        }),
        ctx.mr("s3/BucketPolicy", bucket, region=r, component=component, for_provider={
            "bucketRef": ref(bucket),
            "policy": policy_json([{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }]),
        }),
    ]
    if versioned:
        out.append(ctx.mr("s3/BucketVersioning", bucket, region=r, component=component, for_provider={
            "bucketRef": ref(bucket), "versioningConfiguration": {"status": "Enabled"}}))
    if lifecycle:
        up = ctx.spec.uploads
        out.append(ctx.mr("s3/BucketLifecycleConfiguration", bucket, region=r, component=component, for_provider={
            "bucketRef": ref(bucket),
            "rule": [{
                "id": "tiering-and-cleanup", "status": "Enabled", "filter": [{"prefix": ""}],
                "transition": [{"days": up.transition_to_infrequent_access_days, "storageClass": "STANDARD_IA"}],
                "noncurrentVersionExpiration": [{"noncurrentDays": up.noncurrent_version_expiration_days}],
                "abortIncompleteMultipartUpload": [{"daysAfterInitiation": 7}],
            }],
        }))
    return out

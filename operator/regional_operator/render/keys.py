"""Builder: one customer-managed KMS key per region (rotation on, 7-day deletion window) and its alias.

Every data store and log group in a region is encrypted with that region's key, never another region's, so a
regional key compromise or deletion stays regional. The key policy keeps the AWS default delegation to the
account's IAM (root) and adds exactly the service principals that cannot be authorised through IAM alone:
CloudWatch Logs (encrypted log groups) and CloudWatch alarms publishing to the encrypted SNS topic.
"""

from __future__ import annotations

from typing import Any

from . import logging, names, payments, service
from .context import Region, RenderContext, policy_json, ref

COMPONENT = "keys"
DELETION_WINDOW_DAYS = 7


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in ctx.regions:
        key = names.kms_key(ctx, r)
        out.append(ctx.mr("kms/Key", key, region=r, component=COMPONENT, for_provider={
            "description": f"payments data key for {ctx.spec.environment} in {r.name}",
            "enableKeyRotation": True,
            "deletionWindowInDays": DELETION_WINDOW_DAYS,
            "keyUsage": "ENCRYPT_DECRYPT",
            "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "multiRegion": False,
            "policy": key_policy(ctx, r),
        }))
        out.append(ctx.mr("kms/Alias", key, region=r, component=COMPONENT,
                          external_name=names.kms_alias_external_name(ctx, r),
                          for_provider={"targetKeyIdRef": ref(key)}))
    return out


def encrypted_log_group_arns(ctx: RenderContext, r: Region) -> list[str]:
    """Every log group in `r` encrypted with the region's key: the Lambda's, the service's and the audit logs."""
    groups = [payments.log_group_name(ctx, r), service.log_group_name(ctx, r), *logging.log_groups(ctx, r)]
    return sorted(logging.log_group_arn(ctx, r, g) for g in groups)


def key_policy(ctx: RenderContext, r: Region) -> str:
    """The key policy. `Resource: "*"` in a key policy means "this key" (a key policy cannot name anything else);
    the root statement is AWS's default policy, which hands authorisation to IAM policies."""
    account = ctx.spec.aws_account_id
    return policy_json([
        {
            "Sid": "AccountIAMDelegation",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{r.partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{r.name}.amazonaws.com"},
            "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": "*",
            # only for this deployment's log groups in the region, each named exactly
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": encrypted_log_group_arns(ctx, r)}},
        },
        # AWS's documented statement for a service publishing to an encrypted topic, exactly: no condition
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        # Who may publish is fenced by the topic policy (this deployment's alarms, by account and name).
        {
            "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    ])

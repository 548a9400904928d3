"""Builder: the audit trail of each region - VPC flow logs, ALB access logs, WAF logs and the database's logs.

PCI DSS requirement 10 asks for logs of network traffic and of access to the cardholder-data environment, kept
12 months (10.5.1). Per region:
- VPC flow logs (all traffic, 60 s aggregation) into a CloudWatch Logs group encrypted with the region's key;
  the flow-logs service writes through a role that can only write that group, and whose trust policy accepts
  only this account's flow logs in this region (aws:SourceAccount / aws:SourceArn, the flow-logs IAM guide).
- ALB access logs into a dedicated bucket: ALB log delivery supports SSE-S3 only, never SSE-KMS
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html), so this is
  the one bucket not on the region's key. Its policy lets exactly the region's ELB log-delivery principal
  (aws_facts.ELB_LOG_DELIVERY_ACCOUNTS, or the logdelivery service principal in newer regions) put objects under
  this account's prefix, refuses plain HTTP, and keeps ACLs disabled; versions and a lifecycle keep the logs for
  the retention period.
- WAF logs into a log group whose name starts with `aws-waf-logs-` (WAF refuses any other name:
  https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html), with the Authorization and Cookie
  headers redacted (no credentials or session tokens in logs, PCI DSS 3.3.1 / 8.3.2).
- The database's `postgresql` and `upgrade` logs (database.py exports them): RDS writes them to
  /aws/rds/instance/<identifier>/<log>, creating the group unencrypted and never expiring unless it exists, so
  the groups are created here first, encrypted and with the retention.
Retention: RenderContext.log_retention_days (region defaults; a year for production environments).
"""

from __future__ import annotations

from typing import Any, Final

from ..aws_facts import ELB_LOG_DELIVERY_ACCOUNTS, ELB_LOG_DELIVERY_SERVICE
from . import names
from .context import Region, RenderContext, each_region, policy_json, ref
from .storage import ALL_OBJECTS, bucket_arn, deny_acl_reenable, deny_insecure_transport

COMPONENT: Final = "logging"
ALB_LOGS_PREFIX: Final = "alb"
FLOW_LOG_AGGREGATION_SECONDS: Final = 60
RDS_LOG_EXPORTS: Final = ("postgresql", "upgrade")  # what RDS for PostgreSQL can export
WAF_LOG_PREFIX: Final = "aws-waf-logs-"
WAF_REDACTED_HEADERS: Final = ("authorization", "cookie")


def alb_logs_bucket(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("alb-logs-bucket", r.name)


def flow_log_group_name(ctx: RenderContext, r: Region) -> str:
    return f"/aws/vpc/flow-logs/{names.vpc(ctx, r)}"


def waf_log_group_name(ctx: RenderContext, r: Region) -> str:
    return f"{WAF_LOG_PREFIX}{names.waf(ctx, r)}"


def rds_log_group_name(ctx: RenderContext, r: Region, log: str) -> str:
    return f"/aws/rds/instance/{names.database_identifier(ctx, r)}/{log}"


def log_group_arn(ctx: RenderContext, r: Region, group: str) -> str:
    """The ARN of a log group as CloudWatch Logs puts it in the KMS encryption context (no trailing ':*')."""
    return ctx.arn("logs", r, f"log-group:{group}")


def log_groups(ctx: RenderContext, r: Region) -> list[str]:
    """Every log group this module creates in `r` (the key policy lets CloudWatch Logs use the key for these)."""
    return [flow_log_group_name(ctx, r), waf_log_group_name(ctx, r),
            *(rds_log_group_name(ctx, r, log) for log in RDS_LOG_EXPORTS)]


def _group(ctx: RenderContext, r: Region, mr_name: str, group: str) -> dict[str, Any]:
    return ctx.mr("cloudwatchlogs/Group", mr_name, region=r, component=COMPONENT, external_name=group, for_provider={
        "retentionInDays": ctx.log_retention_days(r), "kmsKeyIdRef": ref(names.kms_key(ctx, r))})


def _flow_logs(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    group_mr = ctx.names.regional("flow-logs", r.name)
    group = flow_log_group_name(ctx, r)
    role = ctx.names.named("flow-logs-role", r.name)
    group_arn = log_group_arn(ctx, r, group)
    return [
        _group(ctx, r, group_mr, group),
        ctx.mr("iam/Role", role, region=r, component=COMPONENT, external_name=role, for_provider={
            "description": f"VPC flow logs of {names.vpc(ctx, r)} to {group}",
            "assumeRolePolicy": policy_json([{
                "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.spec.aws_account_id},
                              "ArnLike": {"aws:SourceArn": ctx.arn("ec2", r, "vpc-flow-log/*")}},
            }]),
        }),
        ctx.mr("iam/RolePolicy", role, region=r, component=COMPONENT, for_provider={
            "roleRef": ref(role),
            "policy": policy_json([{
                "Sid": "WriteFlowLogGroup", "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Resource": [group_arn, f"{group_arn}:*"],
            }]),
        }),
        ctx.mr("ec2/FlowLog", ctx.names.regional("flow-log", r.name), region=r, component=COMPONENT, for_provider={
            "vpcIdRef": ref(names.vpc(ctx, r)),
            "trafficType": "ALL",
            "logDestinationType": "cloud-watch-logs",
            "logDestinationRef": ref(group_mr),  # copies the group's ARN
            "iamRoleArnRef": ref(role),  # copies the role's ARN
            "maxAggregationInterval": FLOW_LOG_AGGREGATION_SECONDS,
        }),
    ]


def _elb_log_delivery_principal(r: Region) -> dict[str, str]:
    account = ELB_LOG_DELIVERY_ACCOUNTS.get(r.name)
    if account is None:
        return {"Service": ELB_LOG_DELIVERY_SERVICE}
    return {"AWS": f"arn:{r.partition}:iam::{account}:root"}


def alb_logs_bucket_policy(ctx: RenderContext, r: Region) -> str:
    arn = bucket_arn(alb_logs_bucket(ctx, r), r)
    return policy_json([
        deny_insecure_transport(arn),
        {"Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": _elb_log_delivery_principal(r),
         "Action": "s3:PutObject", "Resource": f"{arn}/{ALB_LOGS_PREFIX}/AWSLogs/{ctx.spec.aws_account_id}/*"},
        deny_acl_reenable(arn),
    ])


def _alb_logs(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    bucket = alb_logs_bucket(ctx, r)
    days = ctx.log_retention_days(r)

    def sub(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        return ctx.mr(f"s3/{kind}", bucket, region=r, component=COMPONENT,
                      for_provider={"bucketRef": ref(bucket)} | settings)

    return [
        ctx.mr("s3/Bucket", bucket, region=r, component=COMPONENT, external_name=bucket, for_provider={
            "forceDestroy": ctx.spec.lifecycle == "Delete"}),
        sub("BucketVersioning", {"versioningConfiguration": {"status": "Enabled"}}),
        sub("BucketServerSideEncryptionConfiguration", {"rule": [{
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
        sub("BucketLifecycleConfiguration", {"rule": [
            {"id": "expire-after-retention", "status": "Enabled", "filter": [dict(ALL_OBJECTS)],
             "expiration": [{"days": days}], "noncurrentVersionExpiration": [{"noncurrentDays": days}]},
        ]}),
        sub("BucketPublicAccessBlock", {"blockPublicAcls": True, "blockPublicPolicy": True,
                                        "ignorePublicAcls": True, "restrictPublicBuckets": True}),
        sub("BucketPolicy", {"policy": alb_logs_bucket_policy(ctx, r)}),
    ]


def _waf_logs(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    group_mr = ctx.names.regional("waf-logs", r.name)
    group = waf_log_group_name(ctx, r)
    return [
        _group(ctx, r, group_mr, group),
        # no Ref to a log group (logDestinationConfigsRefs points at Firehose): the ARN is ours to build
        ctx.mr("wafv2/WebACLLoggingConfiguration", ctx.names.regional("waf-logging", r.name), region=r,
               component=COMPONENT, for_provider={
                   "resourceArnRef": ref(names.waf(ctx, r)),
                   "logDestinationConfigs": [log_group_arn(ctx, r, group)],
                   "redactedFields": [{"singleHeader": {"name": h}} for h in WAF_REDACTED_HEADERS],
               }),
    ]


def _database_logs(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    return [_group(ctx, r, ctx.names.regional(f"db-logs-{log}", r.name), rds_log_group_name(ctx, r, log))
            for log in RDS_LOG_EXPORTS]


def _region(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    return [*_flow_logs(ctx, r), *_alb_logs(ctx, r), *_waf_logs(ctx, r), *_database_logs(ctx, r)]


build = each_region(_region)

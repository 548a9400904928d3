"""Builder: per-region alarm topic and CloudWatch alarms on the database, Lambda, ALB and DynamoDB.

Each alarm's name says what it watches, never its threshold, so a threshold change in the CR or the defaults file
is an in-place update of one field of one alarm (no delete/create, no lost alarm history).

`alarmActions` takes the topic ARN as a literal (the provider's alarmActionsRefs points at autoscaling policies,
not topics); an SNS topic ARN is fully determined by account, region and name, so it is built here and the
alarms render on the first pass (`okActions` uses okActionsRefs, which does point at topics). Only the ALB alarms
wait for observed state: their `LoadBalancer` dimension is the ALB's `arnSuffix` (app/<name>/<id>), and the id
exists only after AWS creates the load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .. import thresholds as T
from ..aws_facts import postgres_max_connections
from . import names
from .context import Region, RenderContext, each_region, policy_json, ref

COMPONENT: Final = "monitoring"
PERIOD_SECONDS: Final = 300


@dataclass(frozen=True)
class Alarm:
    """One alarm kind. `source` picks the dimensions; `threshold` is a key of the region's thresholds."""

    slug: str
    source: str
    namespace: str
    metric: str
    statistic: str  # "p99" style values go to extendedStatistic
    threshold: str
    comparison: str
    evaluation_periods: int
    datapoints: int
    why: str


_GT, _GE, _LT = "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold"
ALARMS: Final[tuple[Alarm, ...]] = (
    Alarm("rds-cpu", "rds", "AWS/RDS", "CPUUtilization", "Average", T.RDS_CPU_PERCENT, _GT, 3, 3,
          "database CPU sustained high"),
    Alarm("rds-free-storage", "rds", "AWS/RDS", "FreeStorageSpace", "Minimum", T.RDS_FREE_STORAGE_BYTES, _LT, 1, 1,
          "database running out of storage"),
    Alarm("rds-connections", "rds", "AWS/RDS", "DatabaseConnections", "Maximum", T.RDS_CONNECTIONS_PERCENT_OF_MAX, _GT,
          3, 2, "database connections near the instance limit"),
    Alarm("lambda-errors", "lambda", "AWS/Lambda", "Errors", "Sum", T.LAMBDA_ERRORS, _GE, 1, 1,
          "payments processor invocations failing"),
    Alarm("lambda-throttles", "lambda", "AWS/Lambda", "Throttles", "Sum", T.LAMBDA_THROTTLES, _GE, 1, 1,
          "payments processor throttled (reserved concurrency exhausted)"),
    Alarm("lambda-duration-p99", "lambda", "AWS/Lambda", "Duration", "p99", T.LAMBDA_DURATION_P99_MS, _GT, 3, 2,
          "payments processor p99 duration high"),
    Alarm("alb-5xx", "alb", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", T.ALB_5XX_COUNT, _GE, 1, 1,
          "load balancer returning 5xx"),
    Alarm("alb-target-p99", "alb", "AWS/ApplicationELB", "TargetResponseTime", "p99", T.ALB_TARGET_P99_LATENCY_SECONDS,
          _GT, 3, 2, "payments API p99 latency high"),
    Alarm("dynamodb-read-throttles", "dynamodb", "AWS/DynamoDB", "ReadThrottleEvents", "Sum", T.DYNAMODB_THROTTLES,
          _GE, 1, 1, "sessions table throttling reads"),
    Alarm("dynamodb-write-throttles", "dynamodb", "AWS/DynamoDB", "WriteThrottleEvents", "Sum", T.DYNAMODB_THROTTLES,
          _GE, 1, 1, "sessions table throttling writes"),
)
REPLICATION = Alarm("dynamodb-replication", "dynamodb", "AWS/DynamoDB", "ReplicationLatency", "Average",
                    T.DYNAMODB_REPLICATION_LATENCY_MS, _GT, 3, 2, "sessions table replication lagging")
# The ledger is a global table too: a lagging ledger replica is a payments record missing in the standby.
LEDGER_REPLICATION = Alarm("dynamodb-ledger-replication", "ledger", "AWS/DynamoDB", "ReplicationLatency", "Average",
                           T.DYNAMODB_REPLICATION_LATENCY_MS, _GT, 3, 2, "ledger table replication lagging")


def rds_connections_threshold(r: Region) -> float:
    """An absolute rdsConnections wins; otherwise rdsConnectionsPercentOfMax of the instance class's default
    max_connections (a fixed number is far above the limit of a small class and far below a large one's).
    validation.check_settings refused a class without a known limit unless rdsConnections is given."""
    thresholds = r.settings.thresholds
    if T.RDS_CONNECTIONS in thresholds:
        return thresholds[T.RDS_CONNECTIONS]
    limit = postgres_max_connections(r.settings.db_instance_class)
    if limit is None:  # pragma: no cover - refused when the settings were resolved
        raise AssertionError(f"no connection limit for {r.settings.db_instance_class}")
    return float(max(1, int(limit * thresholds[T.RDS_CONNECTIONS_PERCENT_OF_MAX] / 100)))


def alarm_name(ctx: RenderContext, r: Region, slug: str) -> str:
    return ctx.names.regional(f"alarm-{slug}", r.name)


def topic_arn(ctx: RenderContext, r: Region) -> str:
    return ctx.arn("sns", r, names.alarm_topic_name(ctx, r))


def _topic_policy(ctx: RenderContext, r: Region) -> str:
    """Only this deployment's CloudWatch alarms (by account and name pattern, in this region) may publish, and
    only over TLS. Same-account operators keep their access through IAM; a topic policy need not repeat it."""
    account, arn = ctx.spec.aws_account_id, topic_arn(ctx, r)
    return policy_json([
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": ctx.arn("cloudwatch", r, f"alarm:{alarm_name(ctx, r, '*')}")},
            },
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ])


def _alarm(ctx: RenderContext, r: Region, alarm: Alarm, name: str, dimensions: dict[str, str]) -> dict[str, Any]:
    stat = {"extendedStatistic": alarm.statistic} if alarm.statistic.startswith("p") else {
        "statistic": alarm.statistic}
    return ctx.mr("cloudwatch/MetricAlarm", name, region=r, component=COMPONENT, for_provider={
        "alarmDescription": f"{alarm.why} ({r.name})",
        "namespace": alarm.namespace,
        "metricName": alarm.metric,
        "dimensions": dimensions,
        **stat,
        "period": PERIOD_SECONDS,
        "evaluationPeriods": alarm.evaluation_periods,
        "datapointsToAlarm": alarm.datapoints,
        "comparisonOperator": alarm.comparison,
        "threshold": (rds_connections_threshold(r) if alarm.threshold == T.RDS_CONNECTIONS_PERCENT_OF_MAX
                      else r.settings.thresholds[alarm.threshold]),
        # no traffic (a quiet standby region) is not an incident; real outages show up in the other alarms
        "treatMissingData": "notBreaching",
        "actionsEnabled": True,
        "alarmActions": [topic_arn(ctx, r)],
        "okActionsRefs": [ref(names.alarm_topic(ctx, r))],
    })


def _region(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    topic = names.alarm_topic(ctx, r)
    out = [
        ctx.mr("sns/Topic", topic, region=r, component=COMPONENT, for_provider={
            "displayName": f"payments alarms {r.name}",
            # no Ref field for SNS encryption: the region key's alias (made by the keys builder, whose key policy
            # lets cloudwatch.amazonaws.com use the key to publish)
            "kmsMasterKeyId": names.kms_alias_name(ctx, r),
        }),
        ctx.mr("sns/TopicPolicy", names.alarm_topic_policy(ctx, r), region=r, component=COMPONENT,
               for_provider={"arnRef": ref(topic), "policy": _topic_policy(ctx, r)}),
    ]

    sources = {
        "rds": {"DBInstanceIdentifier": names.database_identifier(ctx, r)},
        "lambda": {"FunctionName": names.lambda_function_name(ctx, r)},
        "dynamodb": {"TableName": names.sessions_table_name(ctx)},
        "ledger": {"TableName": names.ledger_table_name(ctx)},
    }
    planned: list[tuple[Alarm, str, dict[str, str]]] = [(a, alarm_name(ctx, r, a.slug), {}) for a in ALARMS]
    # DynamoDB reports replication latency in the sending region, per receiving region: one alarm per peer.
    planned += [(alarm, alarm_name(ctx, r, f"{alarm.slug}-{other.code}"), {"ReceivingRegion": other.name})
                for alarm in (REPLICATION, LEDGER_REPLICATION) for other in ctx.regions if other is not r]
    for alarm, name, extra in planned:
        dimensions = {**sources.get(alarm.source, {}), **extra}
        if alarm.source == "alb":
            suffix = ctx.observed_value("LB", names.alb(ctx, r), "arnSuffix", needed_by=("MetricAlarm", name))
            if suffix is None:
                continue
            dimensions["LoadBalancer"] = suffix
        out.append(_alarm(ctx, r, alarm, name, dimensions))
    return out


build = each_region(_region)

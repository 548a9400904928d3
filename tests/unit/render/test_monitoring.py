"""The monitoring builder: an encrypted alarm topic only CloudWatch may publish to, and per-region alarms whose
names never depend on their thresholds; ALB alarms wait for the load balancer's arnSuffix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from regional_operator.aws_facts import postgres_max_connections
from regional_operator.errors import SpecValidationError
from regional_operator.render import names
from regional_operator.render.monitoring import ALARMS, LEDGER_REPLICATION, REPLICATION, alarm_name
from regional_operator.thresholds import THRESHOLD_KEYS

from tests.crdschema import validate_mr

LATENCY = ("lambda-duration-p99", "alb-target-p99")
ALB = ("alb-5xx", "alb-target-p99")


def component(result: Any, name: str) -> list[dict[str, Any]]:
    return [m for m in result.resources if m["metadata"]["labels"]["platform.regional.io/component"] == name]


def alarms(result: Any) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m["spec"]["forProvider"] for m in result.resources if m["kind"] == "MetricAlarm"}


def test_every_monitoring_mr_is_valid(make_cr, render_cr, observe_all):
    for cr in (make_cr(2), make_cr(3)):
        for observed in (None, observe_all(cr)):
            mrs = component(render_cr(cr, observed), "monitoring")
            assert mrs
            assert [e for m in mrs for e in validate_mr(m)] == []


def test_alb_alarms_wait_for_the_arn_suffix(two_region_cr, render_cr, observe_all, context_for):
    ctx = context_for(two_region_cr)
    before = alarms(render_cr(two_region_cr))
    result_before = render_cr(two_region_cr)
    after = alarms(render_cr(two_region_cr, observe_all(two_region_cr)))
    for r in ctx.regions:
        for slug in ALB:
            name = alarm_name(ctx, r, slug)
            assert name not in before
            assert any(p.kind == "MetricAlarm" and p.name == name and "arnSuffix" in p.waits_for
                       for p in result_before.pending)
            assert after[name]["dimensions"] == {"LoadBalancer": f"app/{names.alb(ctx, r)}/0123456789abcdef"}
            assert after[name]["namespace"] == "AWS/ApplicationELB"
    # everything else needs nothing AWS picks: present on the first render
    assert set(after) - set(before) == {alarm_name(ctx, r, slug) for r in ctx.regions for slug in ALB}


def test_alarm_set_thresholds_and_actions(two_region_cr, render_cr, observe_all, context_for):
    ctx = context_for(two_region_cr)
    found = alarms(render_cr(two_region_cr, observe_all(two_region_cr)))
    for r in ctx.regions:
        topic_arn = f"arn:aws:sns:{r.name}:123456789012:{names.alarm_topic(ctx, r)}"
        for alarm in ALARMS:
            fp = found[alarm_name(ctx, r, alarm.slug)]
            if alarm.threshold != "rdsConnectionsPercentOfMax":
                assert fp["threshold"] == r.settings.thresholds[alarm.threshold]
            assert fp["alarmActions"] == [topic_arn]
            assert fp["okActionsRefs"] == [{"name": names.alarm_topic(ctx, r)}]
            assert fp["treatMissingData"] == "notBreaching"
            assert 1 <= fp["datapointsToAlarm"] <= fp["evaluationPeriods"]
            assert fp["region"] == r.name
        assert found[alarm_name(ctx, r, "rds-cpu")]["dimensions"] == {"DBInstanceIdentifier": names.database(ctx, r)}
        assert found[alarm_name(ctx, r, "rds-free-storage")]["comparisonOperator"] == "LessThanThreshold"
        assert found[alarm_name(ctx, r, "lambda-errors")]["dimensions"] == {
            "FunctionName": names.lambda_function(ctx, r)}
        for slug in LATENCY:
            assert found[alarm_name(ctx, r, slug)]["extendedStatistic"] == "p99"
            assert "statistic" not in found[alarm_name(ctx, r, slug)]
    used = {a.threshold for a in (*ALARMS, REPLICATION, LEDGER_REPLICATION)}
    assert used == set(THRESHOLD_KEYS)


def test_replication_latency_alarm_per_receiving_region(three_region_cr, render_cr, context_for):
    ctx = context_for(three_region_cr)
    found = alarms(render_cr(three_region_cr))
    for r in ctx.regions:
        for other in ctx.regions:
            name = alarm_name(ctx, r, f"{REPLICATION.slug}-{other.code}")
            if other is r:
                assert name not in found
                continue
            assert found[name]["dimensions"] == {"TableName": names.sessions_table(ctx), "ReceivingRegion": other.name}
            assert found[name]["threshold"] == r.settings.thresholds["dynamodbReplicationLatencyMs"]


def test_standby_region_latency_alarms_are_stricter(two_region_cr, render_cr, observe_all, context_for):
    ctx = context_for(two_region_cr)
    found = alarms(render_cr(two_region_cr, observe_all(two_region_cr)))
    east1, east2 = ctx.region("us-east-1"), ctx.region("us-east-2")
    pairs = [(alarm_name(ctx, east1, slug), alarm_name(ctx, east2, slug)) for slug in LATENCY]
    pairs.append((alarm_name(ctx, east1, f"{REPLICATION.slug}-{east2.code}"),
                  alarm_name(ctx, east2, f"{REPLICATION.slug}-{east1.code}")))
    for primary, standby in pairs:
        assert found[standby]["threshold"] < found[primary]["threshold"], (primary, standby)


def test_threshold_change_updates_only_that_alarms_threshold(make_cr, render_cr, observe_all, context_for):
    base = make_cr(2)
    changed = make_cr(2)
    changed["spec"]["regions"][1]["alarmThresholds"] = {"rdsCpuPercent": 65}
    before = alarms(render_cr(base, observe_all(base)))
    after = alarms(render_cr(changed, observe_all(changed)))
    assert set(before) == set(after)
    ctx = context_for(base)
    rds_cpu = alarm_name(ctx, ctx.region("us-east-2"), "rds-cpu")
    differing = {name for name in before if before[name] != after[name]}
    assert differing == {rds_cpu}
    diff = {k for k in before[rds_cpu] if before[rds_cpu][k] != after[rds_cpu][k]}
    assert diff == {"threshold"}
    assert after[rds_cpu]["threshold"] == 65


def test_topic_is_encrypted_and_only_cloudwatch_may_publish(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        topic = next(m for m in result.resources if m["kind"] == "Topic"
                     and m["metadata"]["name"] == names.alarm_topic(ctx, r))
        assert topic["spec"]["forProvider"]["kmsMasterKeyId"] == names.kms_alias_name(ctx, r)
        policy_mr = next(m for m in result.resources if m["kind"] == "TopicPolicy"
                         and m["metadata"]["labels"]["platform.regional.io/region"] == r.name)
        assert policy_mr["spec"]["forProvider"]["arnRef"] == {"name": names.alarm_topic(ctx, r)}
        statements = json.loads(policy_mr["spec"]["forProvider"]["policy"])["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert [s["Principal"] for s in allows] == [{"Service": "cloudwatch.amazonaws.com"}]
        assert allows[0]["Action"] == "sns:Publish"
        assert allows[0]["Resource"] == f"arn:aws:sns:{r.name}:123456789012:{names.alarm_topic(ctx, r)}"
        assert allows[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
        assert allows[0]["Condition"]["ArnLike"]["aws:SourceArn"].startswith(
            f"arn:aws:cloudwatch:{r.name}:123456789012:alarm:")


# --- issue 11, finding 11 ------------------------------------------------------------------------------------------


def test_connections_threshold_follows_the_instance_class(make_cr, render_cr, context_for):
    """RDS for PostgreSQL's max_connections is LEAST(DBInstanceClassMemory/9531392, 5000): one fixed number is
    above a small class's limit (the alarm could never fire) and far below a large one's."""
    cr = make_cr(2)
    cr["spec"]["regions"][0]["database"] = {"instanceClass": "db.r6g.large"}  # 16 GiB
    cr["spec"]["regions"][1]["database"] = {"instanceClass": "db.t3.micro"}  # 1 GiB
    ctx = context_for(cr)
    found = alarms(render_cr(cr))
    limits = {"us-east-1": 16 * 1024**3 // 9531392, "us-east-2": 1024**3 // 9531392}
    for r in ctx.regions:
        threshold = found[alarm_name(ctx, r, "rds-connections")]["threshold"]
        percent = r.settings.thresholds["rdsConnectionsPercentOfMax"]
        assert threshold == int(limits[r.name] * percent / 100)
        assert threshold < limits[r.name]
    assert postgres_max_connections("db.r6g.large") == limits["us-east-1"]


def test_an_absolute_connections_threshold_wins(make_cr, render_cr, context_for):
    cr = make_cr(2)
    cr["spec"]["regions"][1]["alarmThresholds"] = {"rdsConnections": 123}
    ctx = context_for(cr)
    found = alarms(render_cr(cr))
    assert found[alarm_name(ctx, ctx.region("us-east-2"), "rds-connections")]["threshold"] == 123


def test_an_unknown_instance_class_needs_an_absolute_threshold(make_cr, render_cr):
    cr = make_cr(2)
    cr["spec"]["regions"][1]["database"] = {"instanceClass": "db.z9q.huge"}
    with pytest.raises(SpecValidationError) as err:
        render_cr(cr)
    assert err.value.field == "spec.regions[1].alarmThresholds.rdsConnections"


def test_the_ledger_table_has_replication_alarms_like_sessions(three_region_cr, render_cr, context_for):
    ctx = context_for(three_region_cr)
    found = alarms(render_cr(three_region_cr))
    for r in ctx.regions:
        for other in ctx.regions:
            name = alarm_name(ctx, r, f"{LEDGER_REPLICATION.slug}-{other.code}")
            if other is r:
                assert name not in found
                continue
            fp = found[name]
            assert fp["dimensions"] == {"TableName": names.ledger_table(ctx), "ReceivingRegion": other.name}
            assert fp["metricName"] == "ReplicationLatency"
            assert fp["threshold"] == r.settings.thresholds["dynamodbReplicationLatencyMs"]


def test_key_policy_lets_cloudwatch_use_the_key_as_aws_documents(two_region_cr, render_cr, context_for):
    """AWS's statement for a service publishing to an encrypted topic (SNS Developer Guide, Key management,
    "Enable compatibility between event sources from AWS services and encrypted topics") has no condition; a
    condition AWS does not document for that call path could drop every alarm notification."""
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        key = next(m for m in result.resources if m["kind"] == "Key" and m["metadata"]["name"] == names.kms_key(ctx, r))
        statements = json.loads(key["spec"]["forProvider"]["policy"])["Statement"]
        (cw,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert cw == {"Sid": "CloudWatchAlarmsPublishToEncryptedTopic", "Effect": "Allow",
                      "Principal": {"Service": "cloudwatch.amazonaws.com"},
                      "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}

"""The alarm threshold keys, defined once: the CR's `alarmThresholds` (spec.AlarmThresholds, the CRD), the region
defaults file and the monitoring builder's alarm table all use these names (tests check each against this list)."""

from __future__ import annotations

from typing import Final

RDS_CPU_PERCENT: Final = "rdsCpuPercent"
RDS_FREE_STORAGE_BYTES: Final = "rdsFreeStorageBytes"
RDS_CONNECTIONS_PERCENT_OF_MAX: Final = "rdsConnectionsPercentOfMax"
LAMBDA_ERRORS: Final = "lambdaErrors"
LAMBDA_THROTTLES: Final = "lambdaThrottles"
LAMBDA_DURATION_P99_MS: Final = "lambdaDurationP99Ms"
ALB_5XX_COUNT: Final = "alb5xxCount"
ALB_TARGET_P99_LATENCY_SECONDS: Final = "albTargetP99LatencySeconds"
DYNAMODB_THROTTLES: Final = "dynamodbThrottles"
DYNAMODB_REPLICATION_LATENCY_MS: Final = "dynamodbReplicationLatencyMs"
# Optional: an absolute DatabaseConnections threshold, which wins over the percentage of the instance's limit.
RDS_CONNECTIONS: Final = "rdsConnections"

# Every key a region must end up with (CR over region defaults), in the order status reports them.
THRESHOLD_KEYS: Final = (
    RDS_CPU_PERCENT, RDS_FREE_STORAGE_BYTES, RDS_CONNECTIONS_PERCENT_OF_MAX, LAMBDA_ERRORS, LAMBDA_THROTTLES,
    LAMBDA_DURATION_P99_MS, ALB_5XX_COUNT, ALB_TARGET_P99_LATENCY_SECONDS, DYNAMODB_THROTTLES,
    DYNAMODB_REPLICATION_LATENCY_MS,
)
ALL_THRESHOLD_KEYS: Final = (*THRESHOLD_KEYS, RDS_CONNECTIONS)

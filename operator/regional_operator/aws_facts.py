"""Facts about AWS the renderer depends on, each with the documentation page it comes from.

Nothing region-specific lives here (that is configuration: data/region-defaults.yaml); only limits and
enumerations that AWS itself defines.
"""

from __future__ import annotations

from typing import Final

# Name length limits of the fields our names become.
# S3: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (3-63)
# ELBv2 LB and target group: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html (32)
# RDS identifier: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints (63)
# IAM role/policy: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (64 / 128)
# Lambda function: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (64)
# SQS queue: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html (80)
# SNS topic: https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html (256)
# DynamoDB table: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html (255)
# ECS cluster/service/family: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html (255)
# WAFv2 WebACL: https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html (128)
# KMS alias: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html (256 incl. "alias/")
# CloudWatch alarm: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (255)
# Kubernetes object names (the MR's metadata.name, a DNS subdomain): 253; label values: 63.
NAME_LIMITS: Final[dict[str, int]] = {
    "s3-bucket": 63,
    "elbv2-lb": 32,
    "elbv2-target-group": 32,
    "rds-identifier": 63,
    "iam-role": 64,
    "iam-policy": 128,
    "lambda-function": 64,
    "sqs-queue": 80,
    "sns-topic": 256,
    "dynamodb-table": 255,
    "ecs": 255,
    "wafv2-webacl": 128,
    "kms-alias": 256,
    "cloudwatch-alarm": 255,
    "log-group": 512,
    "ssm-parameter": 1011,
    "cloudmap-namespace": 253,
    "tag-value": 256,
    "k8s-name": 253,
}

# Valid Fargate task cpu (units) -> memory (MiB) combinations.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_SIZES: Final[dict[int, tuple[int, ...]]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

# AWS managed WAF rule groups every WebACL carries (vendor AWS).
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html
WAF_MANAGED_RULE_GROUPS: Final[tuple[str, ...]] = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)

# Lambda Python runtime the payments handler targets (boto3 comes from it).
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
LAMBDA_PYTHON_RUNTIME: Final = "python3.11"  # what lambda/payments is built and tested for (payments.build.RUNTIME)

# ISO 3166-1 alpha-2 country codes (officially assigned), for WAF GeoMatchStatement.
# https://www.iso.org/iso-3166-country-codes.html ; WAF: https://docs.aws.amazon.com/waf/latest/APIReference/API_GeoMatchStatement.html
ISO_3166_ALPHA2: Final[frozenset[str]] = frozenset(
    ["AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"]
)

# Direction words in AWS region names and their one/two-letter codes (us-east-1 -> use1, ap-southeast-2 -> apse2).
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
REGION_DIRECTION_CODES: Final[dict[str, str]] = {
    "east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

# Smallest subnet AWS allows is /28; VPC CIDRs are /16../28.
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
VPC_MIN_PREFIX: Final = 16
SUBNET_MAX_PREFIX: Final = 28

# SQS visibility timeout should be at least 6x the function timeout for event source mappings.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
SQS_VISIBILITY_TIMEOUT_FACTOR: Final = 6


# RDS instance class -> memory (GiB), for the connection limit PostgreSQL derives from it. The classes of the
# families below, per the hardware table of
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
# (burstable t: 1 GiB at micro doubling per size; general purpose m: 4 GiB per vCPU; memory optimised r: 8 GiB per
# vCPU; large = 2 vCPUs).
_RDS_SIZE_VCPUS: Final[dict[str, int]] = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
                                          "12xlarge": 48, "16xlarge": 64, "24xlarge": 96}
_RDS_BURSTABLE_GIB: Final[dict[str, float]] = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16,
                                               "2xlarge": 32}
RDS_INSTANCE_MEMORY_GIB: Final[dict[str, float]] = {
    **{f"db.{family}.{size}": gib for family in ("t3", "t4g") for size, gib in _RDS_BURSTABLE_GIB.items()},
    **{f"db.{family}.{size}": 4.0 * vcpus for family in ("m5", "m6g", "m6i", "m7g", "m7i")
       for size, vcpus in _RDS_SIZE_VCPUS.items()},
    **{f"db.{family}.{size}": 8.0 * vcpus for family in ("r5", "r6g", "r6i", "r7g", "r7i")
       for size, vcpus in _RDS_SIZE_VCPUS.items()},
}

# RDS for PostgreSQL's default max_connections: LEAST({DBInstanceClassMemory/9531392}, 5000)
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections
POSTGRES_BYTES_PER_CONNECTION: Final = 9531392
POSTGRES_MAX_CONNECTIONS_CAP: Final = 5000


def postgres_max_connections(instance_class: str) -> int | None:
    """The default connection limit of an RDS for PostgreSQL instance class, None for a class not in the table.
    Computed from the nominal memory; DBInstanceClassMemory is somewhat less (the OS and RDS keep some), which
    is why the default alarm threshold is a percentage well below 100."""
    gib = RDS_INSTANCE_MEMORY_GIB.get(instance_class)
    if gib is None:
        return None
    return min(int(gib * 1024**3) // POSTGRES_BYTES_PER_CONNECTION, POSTGRES_MAX_CONNECTIONS_CAP)
# CloudWatch Logs accepts only these retention periods (days).
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
CLOUDWATCH_LOG_RETENTION_DAYS: Final[frozenset[int]] = frozenset(
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
)
# PCI DSS v4.0 requirement 10.5.1: retain audit log history for at least 12 months.
PCI_LOG_RETENTION_DAYS: Final = 365

# Elastic Load Balancing's log-delivery account per region, for ALB access-log bucket policies in the regions
# available before August 2022; newer regions use the logdelivery.elasticloadbalancing.amazonaws.com principal.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
# (the same table as terraform-provider-aws internal/service/elb/service_account_data_source.go)
ELB_LOG_DELIVERY_ACCOUNTS: Final[dict[str, str]] = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580", "ap-south-1": "718504428378", "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-south-1": "635631232127",
    "eu-west-3": "009996457667", "eu-north-1": "897822967062", "me-south-1": "076674570225",
    "sa-east-1": "507241528517", "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993", "cn-northwest-1": "037604701340",
}
ELB_LOG_DELIVERY_SERVICE: Final = "logdelivery.elasticloadbalancing.amazonaws.com"

# The ALB TLS policy: TLS 1.3 and TLS 1.2 only, and for TLS 1.2 only ECDHE (forward secret) AEAD (GCM) suites.
# ELBSecurityPolicy-TLS13-1-2-2021-06 (the AWS default) also offers CBC-SHA suites; the "Res" policy does not.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
ALB_TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
ALB_TLS_POLICY_PROTOCOLS: Final[tuple[str, ...]] = ("TLSv1.2", "TLSv1.3")
ALB_TLS_POLICY_CIPHERS: Final[tuple[str, ...]] = (
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
)

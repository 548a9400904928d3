"""Builder: the payments event pipeline per region - SQS queue + DLQ (KMS), the Lambda processor delivered from
a per-region artifact bucket as an S3 Object, its log group, least-privilege role, SSM configuration and the
event source mapping.

Active/standby: only the region named by `spec.payments.activeRegion` (default: the primary) has its event source
mapping enabled; switching it in the CR flips the mappings with no redeploy (see docs/payments.md for the drill).
"""

from __future__ import annotations

from typing import Any

from ..aws_facts import LAMBDA_PYTHON_RUNTIME, SQS_VISIBILITY_TIMEOUT_FACTOR
from ..spec import AdoptSpec
from . import names
from .context import Pending, Region, RenderContext, compact_json, policy_json, ref
from .storage import hardened_bucket

COMPONENT = "payments"
HANDLER = "payments.handler.lambda_handler"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
MAX_RECEIVE_COUNT = 5
BATCH_SIZE = 10

# Lambda in a VPC creates, attaches and deletes its ENIs with the execution role
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions).
# The Describe action supports no resource-level permissions, so Resource "*" is unavoidable for it (with
# XRAY_ACTIONS the only wildcards in the role; tests allow-list exactly them). The others act on EC2 resources and
# are scoped to this account and region: network interfaces, and the subnets and security groups
# CreateNetworkInterface uses (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
VPC_ENI_DESCRIBE_ACTIONS = ["ec2:DescribeNetworkInterfaces"]
VPC_ENI_MANAGE_ACTIONS = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                          "ec2:UnassignPrivateIpAddresses"]
VPC_ENI_ACTIONS = VPC_ENI_DESCRIBE_ACTIONS + VPC_ENI_MANAGE_ACTIONS
# Active tracing: Lambda refuses the function unless its role may send traces
# (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html#services-xray-permissions). X-Ray has no
# resource-level permissions for these actions (Service Authorization Reference, AWS X-Ray), so Resource "*".
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in ctx.regions:
        out += _queues(ctx, r)
        out += _configuration(ctx, r)
        out += _identity_and_logs(ctx, r)
        out += _code_and_function(ctx, r)
    return out


def arn(ctx: RenderContext, service: str, r: Region, resource: str) -> str:
    """A deterministic ARN in this deployment's account (names are ours, so only the account is needed)."""
    return ctx.arn(service, r, resource)


def _queues(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    """The DLQ, then the main queue once the DLQ is Ready: SQS refuses a redrive policy whose
    deadLetterTargetArn names a queue that does not exist (SetQueueAttributes, RedrivePolicy), so the main
    queue is not created only to fail. No external name: a queue's is its URL, which AWS assigns (the provider
    writes it after creation; pinning the name would break Observe)."""
    queue, dlq = names.queue(ctx, r), names.dead_letter_queue(ctx, r)
    queue_name, dlq_name = names.queue_name(ctx, r), names.dead_letter_queue_name(ctx, r)
    visibility = r.settings.lambda_timeout_seconds * SQS_VISIBILITY_TIMEOUT_FACTOR
    key_alias = names.kms_alias_name(ctx, r)
    out = [ctx.mr("sqs/Queue", dlq, region=r, component=COMPONENT, for_provider={
        "name": dlq_name, "kmsMasterKeyId": key_alias, "messageRetentionSeconds": DLQ_RETENTION_SECONDS})]
    rendered = [dlq]
    if ctx.observed_ready("Queue", dlq, needed_by=("Queue", queue)):
        out.append(ctx.mr("sqs/Queue", queue, region=r, component=COMPONENT, for_provider={
            "name": queue_name, "kmsMasterKeyId": key_alias, "messageRetentionSeconds": QUEUE_RETENTION_SECONDS,
            "visibilityTimeoutSeconds": visibility, "receiveWaitTimeSeconds": 20,
            "redrivePolicy": compact_json({"deadLetterTargetArn": arn(ctx, "sqs", r, dlq_name),
                                             "maxReceiveCount": MAX_RECEIVE_COUNT})}))
        rendered.insert(0, queue)
    aws_names = {queue: queue_name, dlq: dlq_name}
    for name in rendered:
        out.append(ctx.mr("sqs/QueuePolicy", name, region=r, component=COMPONENT, for_provider={
            "queueUrlRef": ref(name),
            "policy": policy_json([{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                "Resource": arn(ctx, "sqs", r, aws_names[name]),
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }]),
        }))
    return out


def queue_url(ctx: RenderContext, r: Region, queue: str) -> str:
    return f"https://sqs.{r.name}.amazonaws.com/{ctx.spec.aws_account_id}/{queue}"


def _configuration(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    """Non-secret configuration in Parameter Store under the region's path (secrets never go to env vars)."""
    values = {"apiEndpoint": r.settings.payments_api_endpoint, "activeRegion": ctx.spec.active_payments_region,
              "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    return [
        ctx.mr("ssm/Parameter", names.parameter(ctx, r, part), region=r, component=COMPONENT,
               external_name=f"{names.ssm_path(ctx, r)}{key}",
               for_provider={"type": "String", "insecureValue": values[key], "tier": "Standard",
                             "description": f"payments {key} for {r.name}"})
        for key, part in names.PAYMENT_PARAMETERS.items()
    ]


def log_group_name(ctx: RenderContext, r: Region) -> str:
    """Lambda's own log group of the function (/aws/lambda/<function name>)."""
    return f"/aws/lambda/{names.lambda_function_name(ctx, r)}"


def _identity_and_logs(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    role = ctx.names.named("lambda-role", r.name)
    log_group = log_group_name(ctx, r)
    out = [
        ctx.mr("cloudwatchlogs/Group", names.payments_log_group(ctx, r), region=r, component=COMPONENT,
               external_name=log_group, for_provider={
                   "retentionInDays": ctx.log_retention_days(r), "kmsKeyIdRef": ref(names.kms_key(ctx, r))}),
        ctx.mr("iam/Role", role, region=r, component=COMPONENT, external_name=role, for_provider={
            "description": f"payments processor in {r.name}",
            "assumeRolePolicy": policy_json([{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.spec.aws_account_id}},
            }]),
        }),
    ]
    key_arn = ctx.observed_value("Key", names.kms_key(ctx, r), "arn", needed_by=("RolePolicy", role))
    if key_arn is None:
        return out
    path = names.ssm_path(ctx, r)
    statements = [
        {"Sid": "ConsumeOwnQueue", "Effect": "Allow",
         "Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
         "Resource": arn(ctx, "sqs", r, names.queue_name(ctx, r))},
        {"Sid": "DeadLetterRejected", "Effect": "Allow", "Action": ["sqs:SendMessage"],
         "Resource": arn(ctx, "sqs", r, names.dead_letter_queue_name(ctx, r))},
        {"Sid": "WriteOwnLedgerReplica", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
         "Resource": arn(ctx, "dynamodb", r, f"table/{names.ledger_table_name(ctx)}")},
        {"Sid": "ReadOwnParameters", "Effect": "Allow",
         "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
         "Resource": [arn(ctx, "ssm", r, f"parameter{path.rstrip('/')}"), arn(ctx, "ssm", r, f"parameter{path}*")]},
        *_key_statements(ctx, r, key_arn),
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": arn(ctx, "logs", r, f"log-group:{log_group_name(ctx, r)}:*")},
        {"Sid": "DescribeNetworkInterfaces", "Effect": "Allow", "Action": VPC_ENI_DESCRIBE_ACTIONS, "Resource": "*"},
        {"Sid": "ManageOwnNetworkInterfaces", "Effect": "Allow", "Action": VPC_ENI_MANAGE_ACTIONS,
         "Resource": [arn(ctx, "ec2", r, f"{kind}/*") for kind in ("network-interface", "security-group", "subnet")]},
    ]
    if ctx.spec.payments.tracing == "Active":
        statements.append({"Sid": "WriteTraces", "Effect": "Allow", "Action": XRAY_ACTIONS, "Resource": "*"})
    out.append(ctx.mr("iam/RolePolicy", role, region=r, component=COMPONENT, for_provider={
        "roleRef": ref(role), "policy": policy_json(statements)}))
    return out


def _key_statements(ctx: RenderContext, r: Region, key_arn: str) -> list[dict[str, Any]]:
    """The region key, only through the services that use it for this function, and only for its own data (the
    encryption context each service sets): SQS for the two queues (aws:sqs:arn), DynamoDB for the ledger replica
    (aws:dynamodb:tableName), Lambda for the function's environment variables (aws:lambda:FunctionArn)."""
    queues = sorted(arn(ctx, "sqs", r, q) for q in (names.queue_name(ctx, r), names.dead_letter_queue_name(ctx, r)))
    uses = [
        ("QueueMessages", "sqs", ["kms:Decrypt", "kms:GenerateDataKey"], "aws:sqs:arn", queues),
        ("LedgerTable", "dynamodb", ["kms:Decrypt", "kms:GenerateDataKey"], "aws:dynamodb:tableName",
         names.ledger_table_name(ctx)),
        ("EnvironmentVariables", "lambda", ["kms:Decrypt"], "aws:lambda:FunctionArn",
         arn(ctx, "lambda", r, f"function:{names.lambda_function_name(ctx, r)}")),
    ]
    return [
        {"Sid": f"RegionKeyFor{sid}", "Effect": "Allow", "Action": actions, "Resource": key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"{service}.{r.name}.amazonaws.com",
                                        f"kms:EncryptionContext:{context}": value}}}
        for sid, service, actions, context, value in uses
    ]


def _code_and_function(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    bucket = names.artifacts_bucket(ctx, r)
    function = names.lambda_function(ctx, r)
    out = hardened_bucket(ctx, r, bucket, component=COMPONENT, versioned=False, lifecycle=False)
    if ctx.artifact is None:
        ctx.pending.append(Pending("Function", function, "the payments Lambda package (no artifact given)"))
        return out
    artifact = ctx.artifact
    # Literal key ARNs: the provider's kmsKeyIdRef (Object) and kmsKeyArnRef (Function) copy the Key's external
    # name, the key id (provider-references-v2.6.0.tsv), while CreateFunction's KMSKeyArn takes only an ARN and S3
    # reports an object's key as an ARN (an id would be a diff on every poll: the object uploaded again).
    key_arn = ctx.observed_value("Key", names.kms_key(ctx, r), "arn", needed_by=("Function", function))
    if key_arn is None:
        return out
    # The digest is in the MR's name: S3 object keys are ForceNew in the provider, so a new package must be a new
    # Object MR (the old one is pruned), never an in-place key change the provider would refuse.
    obj = ctx.names.regional(f"payments-code-{artifact.sha256[:12]}", r.name)
    out.append(ctx.mr("s3/Object", obj, region=r, component=COMPONENT, for_provider={
        "bucketRef": ref(bucket), "key": artifact.key, "contentBase64": artifact.content_base64,
        "contentType": "application/zip", "serverSideEncryption": "aws:kms",
        "kmsKeyId": key_arn, "bucketKeyEnabled": True, "forceDestroy": True,
    }))
    out.append(ctx.mr("lambda/Function", function, region=r, component=COMPONENT, external_name=function,
                      for_provider={
        "runtime": LAMBDA_PYTHON_RUNTIME, "handler": HANDLER, "architectures": ["x86_64"],
        "s3BucketRef": ref(bucket), "s3Key": artifact.key, "sourceCodeHash": artifact.source_code_hash,
        "roleRef": ref(ctx.names.named("lambda-role", r.name)),
        "memorySize": r.settings.lambda_memory_mb, "timeout": r.settings.lambda_timeout_seconds,
        "reservedConcurrentExecutions": r.settings.lambda_reserved_concurrency,
        "kmsKeyArn": key_arn,
        "tracingConfig": {"mode": ctx.spec.payments.tracing},
        "loggingConfig": {"logFormat": "JSON", "logGroup": log_group_name(ctx, r)},
        "vpcConfig": {"subnetIdRefs": [ref(names.subnet(ctx, r, "private", i)) for i in range(3)],
                      "securityGroupIdRefs": [ref(names.security_group(ctx, r, "lambda"))]},
        "environment": {"variables": {
            "PAYMENTS_API_ENDPOINT": r.settings.payments_api_endpoint,
            "LEDGER_TABLE": names.ledger_table_name(ctx),
            "DLQ_URL": queue_url(ctx, r, names.dead_letter_queue_name(ctx, r)),
            "CONFIG_PATH": names.ssm_path(ctx, r),
            "SERVICE_NAME": "payments-processor",
            "METRICS_NAMESPACE": "Payments",
        }},
    }))
    # The mapping names the queue by a literal ARN (no Ref): CreateEventSourceMapping refuses a queue that does
    # not exist, so it waits until the queue is Ready.
    esm = names.event_source_mapping(ctx, r)
    if not ctx.observed_ready("Queue", names.queue(ctx, r), needed_by=("EventSourceMapping", esm)):
        return out
    adopted_function = (ctx.adopt_of(r) or AdoptSpec()).payments_function
    if adopted_function and adopted_function.mode == "Observe" and not adopted_function.event_source_mapping_uuid:
        # The estate's function is fed by a mapping of its own; a second one would change what it consumes while
        # it is only observed. Give adopt.paymentsFunction.eventSourceMappingUuid to adopt that mapping.
        ctx.pending.append(Pending("EventSourceMapping", esm, "adopt.paymentsFunction mode Manage (or its "
                                   "eventSourceMappingUuid): the observed function keeps its own trigger"))
        return out
    out.append(ctx.mr("lambda/EventSourceMapping", esm, region=r, component=COMPONENT, for_provider={
        "eventSourceArn": arn(ctx, "sqs", r, names.queue_name(ctx, r)),
        "functionNameRef": ref(function),
        "enabled": r.name == ctx.spec.active_payments_region,
        "batchSize": BATCH_SIZE, "maximumBatchingWindowInSeconds": 1,
        "functionResponseTypes": ["ReportBatchItemFailures"],
        "scalingConfig": {"maximumConcurrency": max(2, r.settings.lambda_reserved_concurrency)},
    }))
    return out

"""Fixtures for the payment processor tests: a moto AWS account with a KMS CMK, a CMK-encrypted
ledger table, CMK-encrypted payment queue + DLQ, SSM parameters (one SecureString), and a small
event-source-mapping simulator that moves messages between SQS and the handler like Lambda does."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[3] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from payments import handler  # noqa: E402

REGION = "us-east-1"
TABLE = "payments-ledger-test"
CONFIG_PATH = f"/payments/test/{REGION}/"
_ids = itertools.count(1)


class FakeClock:
    """Monotonic clock the tests move by hand (config cache TTL)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def event_body(payment_id: str, type_: str, amount: Any = "10.00", currency: str = "USD", **overrides: Any) -> str:
    doc: dict[str, Any] = {
        "schemaVersion": "1", "paymentId": payment_id, "type": type_, "amount": amount, "currency": currency,
        "merchantId": "m_1", "customerId": "c_1", "occurredAt": "2025-03-01T12:00:00Z",
    }
    doc.update(overrides)
    return json.dumps({k: v for k, v in doc.items() if v is not ...})


def sqs_record(body: str, message_id: str | None = None, receive_count: int = 1,
               arn: str = f"arn:aws:sqs:{REGION}:123456789012:payments") -> dict[str, Any]:
    return {
        "messageId": message_id or f"msg-{next(_ids)}",
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }


@dataclass
class Stack:
    kms_key_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    env: dict[str, str]
    clock: FakeClock
    ddb: Any = field(repr=False)
    sqs: Any = field(repr=False)
    ssm: Any = field(repr=False)
    responses: list[dict[str, Any]] = field(default_factory=list)

    # -- SQS / event source mapping simulation ------------------------------------------------
    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def poll_once(self, max_messages: int = 10) -> dict[str, Any] | None:
        """Receive one batch, invoke the handler, delete what it did not report as failed and make
        the failures visible again immediately (instead of waiting for the visibility timeout)."""
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=max_messages,
                                       AttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            return None
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m["Attributes"], "messageAttributes": {}, "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn, "awsRegion": REGION,
        } for m in messages]}
        response = handler.lambda_handler(event, _Context())
        self.responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return response

    def drain(self, max_rounds: int = 50) -> None:
        for _ in range(max_rounds):
            if self.poll_once() is None:
                return
        raise AssertionError("queue did not drain")

    def queue_depth(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        a = attrs["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """Read (and delete) everything in the DLQ, with message attributes."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"])
            batch = got.get("Messages", [])
            if not batch:
                return out
            for m in batch:
                out.append(m)
                self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=m["ReceiptHandle"])

    # -- ledger ---------------------------------------------------------------------------------
    def ledger(self, volatile: bool = False, table: str = TABLE) -> dict[tuple[str, str], dict[str, Any]]:
        """The whole ledger table as plain values keyed by (paymentId, recordId). Unless
        ``volatile``, delivery metadata (timestamps, source message id) is dropped."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = self.ddb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return {(i["paymentId"]["S"], i["recordId"]["S"]): plain(i, volatile) for i in items}


_VOLATILE = {"recordedAt", "updatedAt", "sourceMessageId"}


def plain(item: dict[str, Any], volatile: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        if not volatile and name in _VOLATILE:
            continue
        (kind, raw), = value.items()
        out[name] = int(raw) if kind == "N" else raw
    return out


class _Context:
    aws_request_id = "req-test"
    function_name = "payments"


def create_ledger_table(ddb: Any, table: str, key_arn: str) -> None:
    """The ledger key schema the renderer must reproduce: paymentId (S) HASH, recordId (S) RANGE."""
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "paymentId", "AttributeType": "S"},
                              {"AttributeName": "recordId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "paymentId", "KeyType": "HASH"},
                   {"AttributeName": "recordId", "KeyType": "RANGE"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn},
    )


def create_stack(ddb: Any, sqs: Any, ssm: Any, kms: Any, clock: FakeClock,
                 table: str = TABLE, params: dict[str, str] | None = None) -> Stack:
    key_arn = kms.create_key(Description="payments CMK")["KeyMetadata"]["Arn"]
    create_ledger_table(ddb, table, key_arn)
    dlq_url = sqs.create_queue(QueueName="payments-dlq", Attributes={"KmsMasterKeyId": key_arn})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="payments", Attributes={
        "KmsMasterKeyId": key_arn, "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for name, value in (params if params is not None else {"maxReceiveCount": "5"}).items():
        ssm.put_parameter(Name=CONFIG_PATH + name, Value=value, Type="String")
    ssm.put_parameter(Name=CONFIG_PATH + "api/token", Value="s3cr3t-token", Type="SecureString", KeyId=key_arn)
    env = {"AWS_REGION": REGION, "LEDGER_TABLE": table, "DLQ_URL": dlq_url, "CONFIG_PATH": CONFIG_PATH,
           "PAYMENTS_API_ENDPOINT": "https://payments.us-east-1.example.internal", "CONFIG_TTL_SECONDS": "60"}
    return Stack(key_arn, queue_url, queue_arn, dlq_url, env, clock, ddb, sqs, ssm)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def clients(aws: None) -> dict[str, Any]:
    return {name: boto3.client(name, region_name=REGION) for name in ("dynamodb", "sqs", "ssm", "kms")}


@pytest.fixture
def stack(clients: dict[str, Any]) -> Iterator[Stack]:
    s = create_stack(clients["dynamodb"], clients["sqs"], clients["ssm"], clients["kms"], FakeClock())
    handler.reset_runtime(handler.build_runtime(s.env, clock=s.clock))
    yield s
    handler.reset_runtime(None)


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    return [d for d in map(json.loads, filter(None, stdout.splitlines())) if "_aws" in d]


def log_lines(stdout: str) -> list[dict[str, Any]]:
    return [d for d in map(json.loads, filter(None, stdout.splitlines())) if "_aws" not in d]

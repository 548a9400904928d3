"""Ledger state machine against moto DynamoDB (CMK-encrypted table): idempotency, transitions,
classification of cancelled transactions, and the assertions are on the table contents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from conftest import REGION, TABLE, Stack, event_body
from payments.ledger import Ledger, LedgerRejection, Outcome, TransientLedgerError
from payments.schema import parse_event

NOW = datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)


def ledger(stack: Stack, client: Any = None) -> Ledger:
    return Ledger(client or stack.ddb, TABLE, REGION, now=lambda: NOW)


def ev(type_: str, amount: Any = "10.00", payment: str = "pay_1", **kw: Any) -> Any:
    return parse_event(event_body(payment, type_, amount, **kw))


def test_table_and_queues_use_the_cmk(stack: Stack) -> None:
    sse = stack.ddb.describe_table(TableName=TABLE)["Table"]["SSEDescription"]
    assert sse["Status"] == "ENABLED" and sse["SSEType"] == "KMS"
    assert sse["KMSMasterKeyArn"] == stack.kms_key_arn
    for url in (stack.queue_url, stack.dlq_url):
        attrs = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]
        assert attrs["KmsMasterKeyId"] == stack.kms_key_arn


def test_authorize_capture_refund_items(stack: Stack) -> None:
    book = ledger(stack)
    assert book.record(ev("authorize", "10.00"), "m1") is Outcome.RECORDED
    assert book.record(ev("capture", "8.00"), "m2") is Outcome.RECORDED
    assert book.record(ev("refund", "3.00"), "m3") is Outcome.RECORDED
    rows = stack.ledger(volatile=True)
    assert set(rows) == {("pay_1", "summary"), ("pay_1", "event#authorize"), ("pay_1", "event#capture"),
                         ("pay_1", "event#refund")}
    assert rows["pay_1", "summary"] == {
        "paymentId": "pay_1", "recordId": "summary", "currency": "USD", "merchantId": "m_1", "customerId": "c_1",
        "authorizedMinor": 1000, "capturedMinor": 800, "refundedMinor": 300, "status": "REFUNDED",
        "lastEventType": "refund", "version": 3, "updatedAt": "2025-03-01T12:00:01.000Z", "updatedRegion": REGION,
    }
    capture = rows["pay_1", "event#capture"]
    assert capture["amountMinor"] == 800 and capture["sourceMessageId"] == "m2"
    assert capture["fingerprint"] == ev("capture", "8.00").fingerprint()
    assert capture["occurredAt"] == "2025-03-01T12:00:00Z" and capture["schemaVersion"] == "1"
    assert capture["recordedAt"] == "2025-03-01T12:00:01.000Z" and capture["recordedRegion"] == REGION


def test_duplicate_changes_nothing(stack: Stack) -> None:
    book = ledger(stack)
    book.record(ev("authorize"), "m1")
    before = stack.ledger(volatile=True)
    # a redelivery, a producer retry with a new message id and time, and the minor-units spelling
    assert book.record(ev("authorize"), "m1") is Outcome.DUPLICATE
    assert book.record(ev("authorize", occurredAt="2025-03-01T12:05:00Z"), "m9") is Outcome.DUPLICATE
    assert book.record(ev("authorize", 1000), "m10") is Outcome.DUPLICATE
    assert stack.ledger(volatile=True) == before


def test_conflicting_duplicate_is_rejected(stack: Stack) -> None:
    book = ledger(stack)
    book.record(ev("authorize", "10.00"), "m1")
    before = stack.ledger(volatile=True)
    with pytest.raises(LedgerRejection) as info:
        book.record(ev("authorize", "99.00"), "m2")
    assert info.value.code == "ledger.conflicting-duplicate"
    assert stack.ledger(volatile=True) == before


@pytest.mark.parametrize("first", ["capture", "refund"])
def test_before_authorize_is_transient_and_writes_nothing(stack: Stack, first: str) -> None:
    with pytest.raises(TransientLedgerError) as info:
        ledger(stack).record(ev(first), "m1")
    assert info.value.out_of_order and info.value.code == "ledger.out-of-order"
    assert stack.ledger() == {}


def test_refund_before_capture_is_transient(stack: Stack) -> None:
    book = ledger(stack)
    book.record(ev("authorize"), "m1")
    with pytest.raises(TransientLedgerError) as info:
        book.record(ev("refund", "1.00"), "m2")
    assert info.value.out_of_order
    assert book.record(ev("capture"), "m3") is Outcome.RECORDED
    assert book.record(ev("refund", "1.00"), "m2") is Outcome.RECORDED


@pytest.mark.parametrize(("setup", "event", "code"), [
    ([("authorize", "10.00")], ("capture", "10.01"), "ledger.capture-exceeds-authorize"),
    ([("authorize", "10.00"), ("capture", "5.00")], ("refund", "5.01"), "ledger.refund-exceeds-capture"),
])
def test_amount_limits_are_permanent(stack: Stack, setup: list[tuple[str, str]], event: tuple[str, str],
                                     code: str) -> None:
    book = ledger(stack)
    for type_, amount in setup:
        book.record(ev(type_, amount), type_)
    before = stack.ledger(volatile=True)
    with pytest.raises(LedgerRejection) as info:
        book.record(ev(*event), "bad")
    assert info.value.code == code
    assert "exceeds" in info.value.reason
    assert stack.ledger(volatile=True) == before


def test_exact_limits_are_allowed(stack: Stack) -> None:
    book = ledger(stack)
    for type_ in ("authorize", "capture", "refund"):
        assert book.record(ev(type_, "10.00"), type_) is Outcome.RECORDED
    assert stack.ledger()["pay_1", "summary"]["refundedMinor"] == 1000


@pytest.mark.parametrize(("override", "code"), [
    ({"currency": "EUR"}, "ledger.currency-mismatch"),
    ({"merchantId": "m_other"}, "ledger.merchantid-mismatch"),
    ({"customerId": "c_other"}, "ledger.customerid-mismatch"),
])
def test_capture_must_match_the_authorization(stack: Stack, override: dict[str, str], code: str) -> None:
    book = ledger(stack)
    book.record(ev("authorize"), "m1")
    with pytest.raises(LedgerRejection) as info:
        book.record(ev("capture", "1.00", **override), "m2")
    assert info.value.code == code


class _NoOldImage:
    """A client whose cancellation reasons carry no ``Item`` (an SDK that predates
    ReturnValuesOnConditionCheckFailure): the ledger must fall back to a consistent read."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        try:
            return self.inner.transact_write_items(**kwargs)
        except ClientError as exc:
            for reason in exc.response.get("CancellationReasons", []):
                reason.pop("Item", None)
            raise

    def get_item(self, **kwargs: Any) -> Any:
        self.reads += 1
        assert kwargs["ConsistentRead"] is True
        return self.inner.get_item(**kwargs)


def test_classification_without_old_images(stack: Stack) -> None:
    client = _NoOldImage(stack.ddb)
    book = ledger(stack, client)
    book.record(ev("authorize", "10.00"), "m1")
    assert book.record(ev("authorize", "10.00"), "m1") is Outcome.DUPLICATE
    with pytest.raises(LedgerRejection, match="capture-exceeds"):
        book.record(ev("capture", "20.00"), "m2")
    with pytest.raises(TransientLedgerError, match="out-of-order"):
        book.record(ev("capture", payment="pay_2"), "m3")
    assert client.reads == 3


def _client_error(code: str, operation: str = "TransactWriteItems", **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, **extra}, operation)


class _Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def transact_write_items(self, **kwargs: Any) -> Any:
        raise self.exc

    def get_item(self, **kwargs: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(("exc", "code"), [
    (_client_error("ProvisionedThroughputExceededException"), "ledger.throttled"),
    (_client_error("ThrottlingException"), "ledger.throttled"),
    (_client_error("RequestLimitExceeded"), "ledger.throttled"),
    (_client_error("TransactionInProgressException"), "ledger.contention"),
    (_client_error("TransactionCanceledException",
                   CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}]), "ledger.contention"),
    (_client_error("TransactionCanceledException",
                   CancellationReasons=[{"Code": "ThrottlingError"}, {"Code": "None"}]), "ledger.throttled"),
    (_client_error("InternalServerError"), "ledger.unavailable"),
    (_client_error("ResourceNotFoundException"), "ledger.unavailable"),
    (EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"), "ledger.unavailable"),
])
def test_infrastructure_failures_are_transient(stack: Stack, exc: Exception, code: str) -> None:
    with pytest.raises(TransientLedgerError) as info:
        ledger(stack, _Raising(exc)).record(ev("authorize"), "m1")
    assert info.value.code == code
    assert not info.value.out_of_order

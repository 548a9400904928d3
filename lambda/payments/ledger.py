"""DynamoDB payment ledger with exactly-once effects over at-least-once delivery.

Table layout (one table per region; a global table whose replicas are written only by their own
region's function):

    partition key ``paymentId`` (S)    sort key ``recordId`` (S)
    ``summary``            the per-payment aggregate: currency, merchantId, customerId,
                           authorizedMinor, capturedMinor, refundedMinor, status, version
    ``event#authorize``    one immutable item per (paymentId, type): the event as booked
    ``event#capture``      plus its content fingerprint, source message id and write time
    ``event#refund``

Every event is booked by ONE ``TransactWriteItems`` with two conditional actions:

1. Put ``event#<type>`` if it does not exist -> a redelivery cannot book twice (idempotency);
2. Update ``summary`` only if the transition is legal (capture needs an authorization of at least
   the amount, refund needs a capture of at least the amount, same currency/merchant/customer).

Both succeed or neither does, so concurrent or duplicate deliveries are safe without locks. When
the transaction is cancelled, the cancellation reasons (plus the old item images, or a consistent
read when the runtime's SDK predates ``ReturnValuesOnConditionCheckFailure``) tell us which of:

* duplicate (same fingerprint)          -> :attr:`Outcome.DUPLICATE`, nothing changes;
* prerequisite not booked yet           -> :class:`TransientLedgerError` ``ledger.out-of-order``
  (capture before authorize: SQS redelivers it later, it is never dead-lettered for this);
* illegal transition / conflicting data -> :class:`LedgerRejection` (dead-letter with reason);
* throttling, contention, outages       -> :class:`TransientLedgerError` (retry).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from payments.schema import EventType, PaymentEvent

PARTITION_KEY: Final = "paymentId"
SORT_KEY: Final = "recordId"
SUMMARY_RECORD: Final = "summary"
EVENT_RECORD_PREFIX: Final = "event#"

Item = dict[str, dict[str, Any]]

_THROTTLING: Final = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "ThrottlingError", "ProvisionedThroughputExceeded",  # the last two appear as cancellation reasons
})
_CONTENTION: Final = frozenset({"TransactionConflict", "TransactionInProgressException"})
# Per type: (attribute holding the prerequisite amount, prerequisite type, attribute this type sets)
_TRANSITIONS: Final = {
    EventType.CAPTURE: ("authorizedMinor", EventType.AUTHORIZE, "capturedMinor"),
    EventType.REFUND: ("capturedMinor", EventType.CAPTURE, "refundedMinor"),
}
_PAST: Final = {EventType.AUTHORIZE: "authorized", EventType.CAPTURE: "captured"}
_STATUS: Final = {EventType.AUTHORIZE: "AUTHORIZED", EventType.CAPTURE: "CAPTURED", EventType.REFUND: "REFUNDED"}


class DynamoDBClient(Protocol):
    """The two low-level client calls the ledger needs (botocore ``dynamodb`` client or a test fake)."""

    def transact_write_items(self, **kwargs: Any) -> Any: ...

    def get_item(self, **kwargs: Any) -> Any: ...


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"


class TransientLedgerError(Exception):
    """Retry later: not the event's fault (throttling, contention, outage, or prerequisite missing)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

    @property
    def out_of_order(self) -> bool:
        return self.code == "ledger.out-of-order"


class LedgerRejection(Exception):
    """The event can never be booked as sent (e.g. refund over the captured amount)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _error_code(exc: BaseException) -> str | None:
    """AWS error code of a botocore ``ClientError`` (duck-typed: botocore is not imported here)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _infrastructure_error(exc: BaseException) -> TransientLedgerError:
    code = _error_code(exc)
    if code in _THROTTLING:
        return TransientLedgerError("ledger.throttled", f"DynamoDB throttled the request ({code})")
    if code in _CONTENTION:
        return TransientLedgerError("ledger.contention", f"concurrent transaction on the payment ({code})")
    return TransientLedgerError("ledger.unavailable", f"DynamoDB call failed ({code or type(exc).__name__})")


class Ledger:
    """Books validated payment events into the regional ledger table."""

    def __init__(
        self, client: DynamoDBClient, table: str, region: str, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._client = client
        self._table = table
        self._region = region
        self._now = now

    def record(self, event: PaymentEvent, source_message_id: str) -> Outcome:
        """Book ``event`` once; return RECORDED or DUPLICATE, or raise Transient/Rejection."""
        stamp = self._now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": self._event_put(event, source_message_id, stamp)},
                    {"Update": self._summary_update(event, stamp)},
                ]
            )
        except Exception as exc:  # every client failure is classified below, none is swallowed
            return self._explain(event, exc)
        return Outcome.RECORDED

    def _key(self, payment_id: str, record_id: str) -> Item:
        return {PARTITION_KEY: _s(payment_id), SORT_KEY: _s(record_id)}

    def _event_put(self, event: PaymentEvent, message_id: str, stamp: str) -> dict[str, Any]:
        item: Item = {
            **self._key(event.payment_id, EVENT_RECORD_PREFIX + event.type.value),
            "type": _s(event.type.value),
            "amountMinor": _n(event.amount_minor),
            "currency": _s(event.currency),
            "merchantId": _s(event.merchant_id),
            "customerId": _s(event.customer_id),
            "occurredAt": _s(event.occurred_at),
            "schemaVersion": _s(event.schema_version),
            "fingerprint": _s(event.fingerprint()),
            "sourceMessageId": _s(message_id),
            "recordedAt": _s(stamp),
            "recordedRegion": _s(self._region),
        }
        return {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _summary_update(self, event: PaymentEvent, stamp: str) -> dict[str, Any]:
        names = {"#status": "status", "#last": "lastEventType", "#at": "updatedAt",
                 "#reg": "updatedRegion", "#ver": "version", "#cur": "currency",
                 "#mer": "merchantId", "#cus": "customerId"}
        values: Item = {":status": _s(_STATUS[event.type]), ":type": _s(event.type.value), ":at": _s(stamp),
                        ":reg": _s(self._region), ":one": _n(1), ":amt": _n(event.amount_minor),
                        ":cur": _s(event.currency), ":mer": _s(event.merchant_id), ":cus": _s(event.customer_id)}
        common = "#status = :status, #last = :type, #at = :at, #reg = :reg"
        if event.type is EventType.AUTHORIZE:
            names["#auth"] = "authorizedMinor"
            update = f"SET {common}, #cur = :cur, #mer = :mer, #cus = :cus, #auth = :amt ADD #ver :one"
            condition = "attribute_not_exists(#auth)"
        else:
            prerequisite, _, target = _TRANSITIONS[event.type]
            names |= {"#pre": prerequisite, "#tgt": target}
            update = f"SET {common}, #tgt = :amt ADD #ver :one"
            condition = ("#pre >= :amt AND #cur = :cur AND #mer = :mer AND #cus = :cus"
                         " AND attribute_not_exists(#tgt)")
        return {
            "TableName": self._table,
            "Key": self._key(event.payment_id, SUMMARY_RECORD),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _read(self, payment_id: str, record_id: str) -> Item | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=self._key(payment_id, record_id), ConsistentRead=True
            )
        except Exception as exc:
            raise _infrastructure_error(exc) from exc
        item: Item | None = response.get("Item")
        return item

    def _old_image(self, reason: dict[str, Any], payment_id: str, record_id: str) -> Item | None:
        # "Item" is present when the condition failed on an existing item and the SDK sent
        # ReturnValuesOnConditionCheckFailure; otherwise read it (absent item -> None).
        if "Item" in reason:
            item: Item = reason["Item"]
            return item
        return self._read(payment_id, record_id)

    def _explain(self, event: PaymentEvent, exc: Exception) -> Outcome:
        if _error_code(exc) != "TransactionCanceledException":
            raise _infrastructure_error(exc) from exc
        reasons: list[dict[str, Any]] = list(getattr(exc, "response", {}).get("CancellationReasons") or [])
        event_reason, summary_reason = [*reasons, {}, {}][:2]
        if event_reason.get("Code") == "ConditionalCheckFailed":
            existing = self._old_image(event_reason, event.payment_id, EVENT_RECORD_PREFIX + event.type.value)
            if existing is None:
                raise TransientLedgerError("ledger.race", "event item changed during the write; retrying")
            if existing.get("fingerprint", {}).get("S") == event.fingerprint():
                return Outcome.DUPLICATE
            raise LedgerRejection(
                "ledger.conflicting-duplicate",
                f"a {event.type.value} for this payment is already booked with a different amount, "
                "currency, merchant or customer",
            )
        if summary_reason.get("Code") == "ConditionalCheckFailed":
            summary = self._old_image(summary_reason, event.payment_id, SUMMARY_RECORD)
            raise self._transition_error(event, summary)
        codes = {str(r.get("Code")) for r in reasons} - {"None"}
        raise _infrastructure_error(_CodeOnly(next(iter(sorted(codes)), "TransactionCanceledException")))

    def _transition_error(self, event: PaymentEvent, summary: Item | None) -> Exception:
        kind = event.type.value
        if event.type is EventType.AUTHORIZE:
            if summary is not None and "authorizedMinor" in summary:
                return LedgerRejection("ledger.already-authorized", "payment already has an authorization")
            return TransientLedgerError("ledger.race", "summary changed during the write; retrying")
        prerequisite, before, target = _TRANSITIONS[event.type]
        if summary is None or prerequisite not in summary:
            return TransientLedgerError(
                "ledger.out-of-order", f"{kind} arrived before its {before.value}; will be retried"
            )
        for attr, mine in (("currency", event.currency), ("merchantId", event.merchant_id),
                           ("customerId", event.customer_id)):
            theirs = summary.get(attr, {}).get("S")
            if theirs != mine:
                return LedgerRejection(
                    f"ledger.{attr.lower()}-mismatch", f"{kind} {attr} {mine} differs from the payment's {theirs}"
                )
        limit = int(summary[prerequisite]["N"])
        if event.amount_minor > limit:
            return LedgerRejection(
                f"ledger.{kind}-exceeds-{before.value}",
                f"{kind} of {event.amount_minor} exceeds the {_PAST[before]} {limit} "
                f"({event.currency} minor units)",
            )
        if target in summary:
            return LedgerRejection(f"ledger.duplicate-{kind}", f"payment already has a different {kind}")
        return TransientLedgerError("ledger.race", "summary changed during the write; retrying")


class _CodeOnly(Exception):
    """Carries a cancellation-reason code into :func:`_infrastructure_error`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}

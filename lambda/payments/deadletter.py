"""Explicit dead-lettering with the rejection reason attached.

Why the handler sends to the DLQ itself instead of letting SQS redrive: SQS's redrive moves a
message only after ``maxReceiveCount`` failed receives and records no reason. A permanently
invalid event would burn every retry (and delay its neighbours) before landing there without any
hint why. Sending it ourselves, with ``rejectionCode``/``rejectionReason`` message attributes, and
then reporting the record as *successful* removes it from the source queue exactly once.

The body is forwarded byte-for-byte so an operator can fix and re-drive it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

_MAX_REASON: Final = 1024


class SQSClient(Protocol):
    def send_message(self, **kwargs: Any) -> Any: ...


def _printable(text: str, limit: int = _MAX_REASON) -> str:
    # SQS rejects some control characters in attribute values; reasons can echo member names.
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:limit]


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": _printable(value) or "-"}


class DeadLetterQueue:
    """Sends rejected SQS records to the DLQ named by ``DLQ_URL``."""

    def __init__(self, sqs: SQSClient, queue_url: str, region: str) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._region = region

    def send(self, record: Mapping[str, Any], code: str, reason: str) -> str:
        """Forward ``record`` with its reason; return the DLQ message id. Raises on failure."""
        attributes = record.get("attributes") or {}
        receive_count = str(attributes.get("ApproximateReceiveCount", "0"))
        if not (receive_count.isascii() and receive_count.isdigit()):
            receive_count = "0"
        response = self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=record.get("body") or "<empty body>",
            MessageAttributes={
                "rejectionCode": _string(code),
                "rejectionReason": _string(reason),
                "sourceMessageId": _string(str(record.get("messageId", ""))),
                "sourceQueueArn": _string(str(record.get("eventSourceARN", ""))),
                "rejectedInRegion": _string(self._region),
                "receiveCount": {"DataType": "Number",
                                 "StringValue": receive_count},
            },
        )
        return str(response.get("MessageId", ""))

"""Payment event schema, ``schemaVersion`` "1", and its strict parser.

Wire format: the SQS message body is one UTF-8 JSON object with exactly these members::

    {
      "schemaVersion": "1",                      # string; other versions are rejected
      "paymentId":  "pay_01HX...",               # identifier, see _IDENTIFIER
      "type":       "authorize" | "capture" | "refund",
      "amount":     "12.34"  or  1234,           # decimal STRING in major units, or
                                                 # JSON INTEGER in minor units (1234 = 12.34 USD)
      "currency":   "USD",                       # active ISO 4217 code, upper case
      "merchantId": "m_42",
      "customerId": "c_7",
      "occurredAt": "2025-01-31T23:59:59.123Z"   # RFC 3339, offset required
    }

Why this strict: the ledger stores money. A JSON number with a fraction or exponent (``12.34``,
``1e3``, ``12.0``) is parsed as a binary float by most producers and consumers, so it is refused
whatever its value; an amount with more fractional digits than the currency's minor unit
("1.005" USD) is refused rather than rounded; duplicate JSON keys (where the last one silently
wins) and unknown members (typos such as ``amout``) are refused. A bare JSON integer always means
*minor units*: ``"amount": 12`` for USD is 12 cents, never 12 dollars.

Every failure raises :class:`InvalidEvent` whose ``field`` names the offending member, so the
dead-letter message says exactly what to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final

from payments.currencies import minor_unit_exponent

SCHEMA_VERSION: Final = "1"
#: Upper bound on an amount in minor units; far above any real payment, well inside DynamoDB's
#: 38-digit numbers and exact in every JSON/float-free consumer.
MAX_AMOUNT_MINOR: Final = 10**15 - 1

_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_DECIMAL: Final = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,18}))?")
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_FIELDS: Final = (
    "schemaVersion", "paymentId", "type", "amount", "currency", "merchantId", "customerId", "occurredAt",
)


class EventType(StrEnum):
    """The three ledger transitions a payment goes through, in their causal order."""

    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    REFUND = "refund"


class InvalidEvent(ValueError):
    """A permanently malformed event; ``field`` names the member at fault (``body`` for the whole)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @property
    def code(self) -> str:
        """Machine-readable rejection code, e.g. ``schema.amount``; used as a DLQ message attribute."""
        return f"schema.{self.field}"


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A validated event. ``amount_minor`` is an exact integer; floats never appear past the parser."""

    payment_id: str
    type: EventType
    amount_minor: int
    currency: str
    merchant_id: str
    customer_id: str
    occurred_at: str  # the RFC 3339 string as sent (validated), kept verbatim for the audit trail
    schema_version: str = SCHEMA_VERSION

    def fingerprint(self) -> str:
        """Hash of the money-relevant content, used to tell a redelivery from a conflicting event.

        ``occurredAt`` is left out on purpose: a producer retry that re-stamps the time is still
        the same financial fact, while a different amount/currency/party is not.
        """
        canonical = "\x1f".join(
            (self.payment_id, self.type.value, str(self.amount_minor), self.currency,
             self.merchant_id, self.customer_id)
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def amount_decimal(self) -> str:
        """Amount in major units as an exact decimal string (for logs and humans)."""
        exponent = minor_unit_exponent(self.currency) or 0
        if exponent == 0:
            return str(self.amount_minor)
        whole, frac = divmod(self.amount_minor, 10**exponent)
        return f"{whole}.{frac:0{exponent}d}"


class _Literal(str):
    """A JSON number kept as text, so the field that held it can be named in the rejection."""

    __slots__ = ()


class _FloatLiteral(_Literal):
    """A JSON number with a fraction or exponent, or NaN/Infinity: never accepted."""

    __slots__ = ()


class _HugeInt(_Literal):
    """A JSON integer too long to be an amount (also keeps int() off 4300-digit strings)."""

    __slots__ = ()


def _parse_int(text: str) -> int | _HugeInt:
    return int(text) if len(text) <= 24 else _HugeInt(text)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidEvent(key, "duplicate JSON member")
        result[key] = value
    return result


def _load(body: str) -> dict[str, Any]:
    try:
        value = json.loads(
            body,
            parse_float=_FloatLiteral,
            parse_int=_parse_int,
            parse_constant=_FloatLiteral,  # NaN / Infinity / -Infinity
            object_pairs_hook=_reject_duplicate_keys,
        )
    except InvalidEvent:
        raise
    except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError is a ValueError; deep nesting
        raise InvalidEvent("body", f"not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise InvalidEvent("body", "must be a JSON object")
    return value


def _identifier(doc: dict[str, Any], field: str) -> str:
    value = doc[field]
    if not isinstance(value, str) or isinstance(value, _Literal):
        raise InvalidEvent(field, "must be a string")
    if not _IDENTIFIER.fullmatch(value):
        raise InvalidEvent(field, "must be 1-128 characters [A-Za-z0-9._:-] starting alphanumeric")
    return value


def _currency(doc: dict[str, Any]) -> tuple[str, int]:
    value = doc["currency"]
    if not isinstance(value, str) or isinstance(value, _Literal) or not _CURRENCY.fullmatch(value):
        raise InvalidEvent("currency", "must be a three-letter upper-case ISO 4217 code")
    exponent = minor_unit_exponent(value)
    if exponent is None:
        raise InvalidEvent("currency", f"{value} is not an active ISO 4217 currency code")
    return value, exponent


def _amount(value: Any, currency: str, exponent: int) -> int:
    if isinstance(value, _FloatLiteral):
        raise InvalidEvent(
            "amount", "JSON floats are not accepted; send a decimal string or an integer in minor units"
        )
    if isinstance(value, _HugeInt):
        raise InvalidEvent("amount", f"exceeds the maximum of {MAX_AMOUNT_MINOR} minor units")
    if isinstance(value, bool):  # bool is an int subclass: true must not mean 1 cent
        raise InvalidEvent("amount", "must be a decimal string or an integer in minor units, not a boolean")
    if isinstance(value, int):
        minor = value
    elif isinstance(value, str):
        match = _DECIMAL.fullmatch(value)
        if match is None:
            raise InvalidEvent("amount", "decimal string must look like 123 or 123.45 (no sign, exponent or spaces)")
        whole, frac = match.group(1), match.group(2) or ""
        if len(frac) > exponent:
            raise InvalidEvent(
                "amount", f"{len(frac)} fractional digits exceed the {currency} minor unit ({exponent})"
            )
        minor = int(whole) * 10**exponent + (int(frac.ljust(exponent, "0")) if exponent else 0)
    else:
        raise InvalidEvent("amount", "must be a decimal string or an integer in minor units")
    if minor <= 0:
        raise InvalidEvent("amount", "must be greater than zero")
    if minor > MAX_AMOUNT_MINOR:
        raise InvalidEvent("amount", f"exceeds the maximum of {MAX_AMOUNT_MINOR} minor units")
    return minor


def _timestamp(doc: dict[str, Any]) -> str:
    value = doc["occurredAt"]
    if not isinstance(value, str) or isinstance(value, _Literal):
        raise InvalidEvent("occurredAt", "must be an RFC 3339 timestamp string")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise InvalidEvent("occurredAt", "must be RFC 3339, e.g. 2025-01-31T23:59:59Z (offset required)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    sign, off_h, off_m = match.group(9), match.group(10), match.group(11)
    try:
        offset = timedelta(0)
        if sign is not None:
            if int(off_h) > 23 or int(off_m) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
        # RFC 3339 allows a leap second (:60); datetime does not, so validate it as :59.
        datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone(offset))
        if second > 60:
            raise ValueError("second out of range")
    except ValueError:
        raise InvalidEvent("occurredAt", "is not a valid calendar date/time") from None
    return value


def parse_event(body: str) -> PaymentEvent:
    """Parse and validate one SQS message body; raise :class:`InvalidEvent` naming the field at fault."""
    doc = _load(body)
    version = doc.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise InvalidEvent("schemaVersion", f"unsupported schema version {version!r}; expected '1'")
    unknown = sorted(set(doc) - set(_FIELDS))
    if unknown:
        raise InvalidEvent(unknown[0][:64], "unknown member (schema v1 has no such field)")
    for field in _FIELDS:
        if field not in doc:
            raise InvalidEvent(field, "required member is missing")
    payment_id = _identifier(doc, "paymentId")
    raw_type = doc["type"]
    if not isinstance(raw_type, str) or raw_type not in {t.value for t in EventType}:
        raise InvalidEvent("type", "must be one of authorize, capture, refund")
    currency, exponent = _currency(doc)
    return PaymentEvent(
        payment_id=payment_id,
        type=EventType(raw_type),
        amount_minor=_amount(doc["amount"], currency, exponent),
        currency=currency,
        merchant_id=_identifier(doc, "merchantId"),
        customer_id=_identifier(doc, "customerId"),
        occurred_at=_timestamp(doc),
    )

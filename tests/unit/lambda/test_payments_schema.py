"""Schema v1 parsing: what is accepted, and that every rejection names the field at fault."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import event_body
from hypothesis import given
from hypothesis import strategies as st
from payments.currencies import MINOR_UNIT_EXPONENT, minor_unit_exponent
from payments.schema import MAX_AMOUNT_MINOR, EventType, InvalidEvent, parse_event


def test_valid_event_decimal_string() -> None:
    ev = parse_event(event_body("pay_1", "authorize", "12.34"))
    assert ev.payment_id == "pay_1"
    assert ev.type is EventType.AUTHORIZE
    assert ev.amount_minor == 1234
    assert ev.currency == "USD"
    assert (ev.merchant_id, ev.customer_id) == ("m_1", "c_1")
    assert ev.occurred_at == "2025-03-01T12:00:00Z"
    assert ev.amount_decimal() == "12.34"


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    (1234, "USD", 1234),          # integer = minor units
    ("12", "USD", 1200),
    ("12.3", "USD", 1230),
    ("0.01", "USD", 1),
    ("1000", "JPY", 1000),        # exponent 0
    (1000, "JPY", 1000),
    ("1.234", "KWD", 1234),       # exponent 3
    ("0.0001", "CLF", 1),         # exponent 4
    (str(MAX_AMOUNT_MINOR), "JPY", MAX_AMOUNT_MINOR),
])
def test_amount_forms(amount: Any, currency: str, minor: int) -> None:
    assert parse_event(event_body("p", "capture", amount, currency)).amount_minor == minor


@pytest.mark.parametrize("stamp", [
    "2025-03-01T12:00:00Z", "2025-03-01t12:00:00z", "2025-03-01T12:00:00.123456789+05:30",
    "2024-02-29T23:59:59-08:00", "2016-12-31T23:59:60Z",
])
def test_rfc3339_accepted(stamp: str) -> None:
    assert parse_event(event_body("p", "refund", occurredAt=stamp)).occurred_at == stamp


def _raw(amount_literal: str) -> str:
    """A body whose amount is a raw JSON literal (json.dumps would quote or normalise it)."""
    return event_body("p", "authorize", "__A__").replace('"__A__"', amount_literal)


@pytest.mark.parametrize(("body", "field"), [
    (_raw("12.34"), "amount"),                  # float
    (_raw("12.0"), "amount"),                   # float even if integral
    (_raw("1e3"), "amount"),
    (_raw("NaN"), "amount"),
    (_raw("Infinity"), "amount"),
    (_raw("true"), "amount"),                   # bool is an int subclass in Python
    (_raw("null"), "amount"),
    (_raw("-5"), "amount"),
    (_raw("0"), "amount"),
    (_raw(str(MAX_AMOUNT_MINOR + 1)), "amount"),
    (event_body("p", "authorize", "1.234"), "amount"),              # 3 digits > USD exponent 2
    (event_body("p", "authorize", "1.230"), "amount"),              # even trailing zeros
    (event_body("p", "authorize", "100.5", "JPY"), "amount"),
    (event_body("p", "authorize", "-1.00"), "amount"),
    (event_body("p", "authorize", "+1.00"), "amount"),
    (event_body("p", "authorize", " 1.00"), "amount"),
    (event_body("p", "authorize", "1."), "amount"),
    (event_body("p", "authorize", ".5"), "amount"),
    (event_body("p", "authorize", "01.00"), "amount"),
    (event_body("p", "authorize", "1e3"), "amount"),
    (event_body("p", "authorize", "0.00"), "amount"),
    (event_body("p", "authorize", "1,00"), "amount"),
    (event_body("p", "authorize", "10", "usd"), "currency"),
    (event_body("p", "authorize", "10", "XAU"), "currency"),        # no minor unit
    (event_body("p", "authorize", "10", "HRK"), "currency"),        # withdrawn 2023
    (event_body("p", "authorize", "10", "ABC"), "currency"),
    (event_body("p", "authorize", "10", 840), "currency"),
    (event_body("p", "void"), "type"),
    (event_body("p", ["capture"]), "type"),
    (event_body("", "capture"), "paymentId"),
    (event_body("x" * 129, "capture"), "paymentId"),
    (event_body("pay 1", "capture"), "paymentId"),
    (event_body(123, "capture"), "paymentId"),  # type: ignore[arg-type]
    (event_body("p", "capture", merchantId=None), "merchantId"),
    (event_body("p", "capture", customerId="#c"), "customerId"),
    (event_body("p", "capture", occurredAt="2025-03-01T12:00:00"), "occurredAt"),      # no offset
    (event_body("p", "capture", occurredAt="2025-03-01 12:00:00Z"), "occurredAt"),
    (event_body("p", "capture", occurredAt="2025-02-30T12:00:00Z"), "occurredAt"),
    (event_body("p", "capture", occurredAt="2025-03-01T24:00:00Z"), "occurredAt"),
    (event_body("p", "capture", occurredAt="2025-03-01T12:00:00+24:00"), "occurredAt"),
    (event_body("p", "capture", occurredAt=1740830400), "occurredAt"),
    (event_body("p", "capture", schemaVersion="2"), "schemaVersion"),
    (event_body("p", "capture", schemaVersion=1), "schemaVersion"),
    (event_body("p", "capture", schemaVersion=...), "schemaVersion"),
    (event_body("p", "capture", amout="1.00"), "amout"),               # unknown member (typo)
    (event_body("p", "capture", currency=...), "currency"),
    (event_body("p", "capture", occurredAt=...), "occurredAt"),
    (event_body("p", "capture", amount=...), "amount"),
    ('{"schemaVersion": "1", "schemaVersion": "1"}', "schemaVersion"),  # duplicate member
    (_raw("9" * 5000), "amount"),               # longer than Python's int() digit limit
    (_raw("-" + "9" * 30), "amount"),
    (event_body("p", "capture", occurredAt=10**30), "occurredAt"),
    (event_body("p", "capture", merchantId=10**30), "merchantId"),
    ("[" * 100_000 + "]" * 100_000, "body"),   # nesting deeper than the recursion limit
    ("not json", "body"),
    ("", "body"),
    ("[1, 2]", "body"),
    ('"just a string"', "body"),
])
def test_rejections_name_the_field(body: str, field: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(body)
    assert info.value.field == field
    assert info.value.code == f"schema.{field}"
    assert str(info.value).startswith(f"{field}: ")


def test_duplicate_amount_member_is_rejected_not_last_wins() -> None:
    body = event_body("p", "authorize", "1.00").replace('"amount": "1.00"', '"amount": "1.00", "amount": "1000.00"')
    with pytest.raises(InvalidEvent, match="duplicate"):
        parse_event(body)


def test_float_rejection_explains_alternatives() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(_raw("12.34"))
    assert "decimal string" in info.value.reason and "minor units" in info.value.reason


def test_currency_table_is_iso4217_shaped() -> None:
    assert len(MINOR_UNIT_EXPONENT) > 150
    assert all(len(c) == 3 and c.isupper() and c.isalpha() for c in MINOR_UNIT_EXPONENT)
    assert set(MINOR_UNIT_EXPONENT.values()) == {0, 2, 3, 4}
    expected = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "TND": 3,
                "CLF": 4, "UYW": 4, "ISK": 0, "VND": 0, "XOF": 0, "IDR": 2, "HUF": 2}
    assert {c: minor_unit_exponent(c) for c in expected} == expected
    for withdrawn in ("HRK", "VEF", "MRO", "STD", "LTL", "XAU", "XDR", "XXX"):
        assert minor_unit_exponent(withdrawn) is None


def test_fingerprint_ignores_occurred_at_but_not_money() -> None:
    a = parse_event(event_body("p", "capture", "5.00"))
    later = parse_event(event_body("p", "capture", 500, occurredAt="2025-03-02T00:00:00Z"))
    assert a.fingerprint() == later.fingerprint()
    assert a.fingerprint() != parse_event(event_body("p", "capture", "5.01")).fingerprint()
    assert a.fingerprint() != parse_event(event_body("p", "capture", "5.00", merchantId="m_2")).fingerprint()


@given(minor=st.integers(1, MAX_AMOUNT_MINOR), currency=st.sampled_from(sorted(MINOR_UNIT_EXPONENT)))
def test_decimal_and_minor_forms_agree(minor: int, currency: str) -> None:
    as_int = parse_event(event_body("p", "authorize", minor, currency))
    as_str = parse_event(event_body("p", "authorize", as_int.amount_decimal(), currency))
    assert as_int.amount_minor == as_str.amount_minor == minor
    assert as_int.fingerprint() == as_str.fingerprint()


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_no_float_is_ever_accepted_as_amount(value: float) -> None:
    literal = json.dumps(value)  # 1.0, 1e+16, NaN, Infinity...
    with pytest.raises(InvalidEvent) as info:
        parse_event(_raw(literal))
    assert info.value.field == "amount"

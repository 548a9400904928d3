"""Property: any interleaving of duplicated deliveries of a valid event stream, in any batch sizes,
with failed records redelivered later (as SQS does), yields the same final ledger as booking each
event once in causal order -- and nothing is dead-lettered."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from conftest import REGION, Stack, create_ledger_table, event_body, sqs_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payments import handler
from payments.config import ConfigCache
from payments.currencies import MINOR_UNIT_EXPONENT
from payments.ledger import Ledger
from payments.observability import Metrics, configure_logger

_tables = itertools.count()


@dataclass(frozen=True)
class Payment:
    payment_id: str
    currency: str
    amounts: tuple[int, ...]  # authorize[, capture[, refund]] in minor units, non-increasing


@st.composite
def payments(draw: st.DrawFn) -> list[Payment]:
    out = []
    for n in range(draw(st.integers(1, 3))):
        authorized = draw(st.integers(1, 10**9))
        amounts = [authorized]
        for _ in range(draw(st.integers(0, 2))):
            amounts.append(draw(st.integers(1, amounts[-1])))
        out.append(Payment(f"pay_{n}", draw(st.sampled_from(["USD", "JPY", "KWD", "CLF"])), tuple(amounts)))
    return out


def _spell(minor: int, currency: str, as_string: bool) -> Any:
    """The same amount either as integer minor units or as the exact decimal string."""
    if not as_string:
        return minor
    exponent = MINOR_UNIT_EXPONENT[currency]
    whole, frac = divmod(minor, 10**exponent)
    return f"{whole}.{frac:0{exponent}d}" if exponent else str(whole)


class _CollectingDLQ:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, record: Any, code: str, reason: str) -> str:
        self.sent.append((code, reason))
        return "x"


class _StaticSSM:
    def get_parameters_by_path(self, **kwargs: Any) -> Any:
        return {"Parameters": [{"Name": kwargs["Path"] + "/maxReceiveCount", "Value": "1000000"}]}


def _runtime(ddb: Any, table: str) -> tuple[handler.Runtime, _CollectingDLQ]:
    dlq = _CollectingDLQ()
    rt = handler.Runtime(
        settings=handler.Settings(REGION, table, "dlq", "/payments/test/us-east-1/"),
        ledger=Ledger(ddb, table, REGION),
        dead_letters=dlq,  # type: ignore[arg-type]
        config=ConfigCache(_StaticSSM(), "/payments/test/us-east-1/", 60),
        logger=configure_logger(REGION, "ERROR"),
        metrics=Metrics(REGION),
    )
    return rt, dlq


# One moto account for all examples (function_scoped_fixture is intended: every example books into
# two fresh tables of its own, so nothing leaks between examples).
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(stream=payments(), data=st.data())
def test_any_interleaving_of_duplicates_gives_the_same_ledger(
    stack: Stack, stream: list[Payment], data: st.DataObject
) -> None:
    events = [(p, i) for p in stream for i in range(len(p.amounts))]
    types = ("authorize", "capture", "refund")

    def body(p: Payment, i: int, as_string: bool) -> str:
        return event_body(p.payment_id, types[i], _spell(p.amounts[i], p.currency, as_string), p.currency)

    ddb = stack.ddb
    n = next(_tables)
    reference, table = f"reference-{n}", f"subject-{n}"
    create_ledger_table(ddb, reference, stack.kms_key_arn)
    create_ledger_table(ddb, table, stack.kms_key_arn)

    # reference: each event exactly once, in causal order, one per batch
    ref_rt, ref_dlq = _runtime(ddb, reference)
    for p, i in events:
        assert handler.process_batch(ref_rt, {"Records": [sqs_record(body(p, i, True))]}) == {
            "batchItemFailures": []}
    expected = stack.ledger(table=reference)
    assert len(expected) == len(events) + len(stream)  # one item per event plus one summary per payment

    # subject: every event delivered 1-3 times, any order, any batch sizes, failures redelivered
    rt, dlq = _runtime(ddb, table)
    deliveries = []
    for p, i in events:
        first = sqs_record(body(p, i, data.draw(st.booleans())))
        deliveries.append(first)
        for _ in range(data.draw(st.integers(0, 2))):
            # a producer duplicate (new message id, maybe the other amount spelling) or an SQS
            # at-least-once duplicate (same message id and body)
            same = data.draw(st.booleans())
            deliveries.append(dict(first, attributes=dict(first["attributes"])) if same
                              else sqs_record(body(p, i, data.draw(st.booleans()))))
    queue = deque(data.draw(st.permutations(deliveries)))
    rounds = 0
    while queue:
        rounds += 1
        assert rounds < 500, "livelock: queue never drained"
        batch = [queue.popleft() for _ in range(min(len(queue), data.draw(st.integers(1, 10))))]
        failed = {f["itemIdentifier"] for f in handler.process_batch(rt, {"Records": batch})["batchItemFailures"]}
        for record in batch:
            if record["messageId"] in failed:
                receives = int(record["attributes"]["ApproximateReceiveCount"]) + 1
                record["attributes"]["ApproximateReceiveCount"] = str(receives)
                queue.append(record)

    assert dlq.sent == [] and ref_dlq.sent == []
    assert stack.ledger(table=table) == expected

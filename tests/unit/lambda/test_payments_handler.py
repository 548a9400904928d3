"""End-to-end through ``lambda_handler`` with moto SQS/DynamoDB/SSM/KMS: every record ends in
exactly one place (ledger once, DLQ with reason, or batch item failure), asserted on the table
and the queues rather than on return codes alone."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import REGION, Stack, emf_documents, event_body, log_lines, sqs_record
from payments import handler
from payments.config import ConfigError, Settings


def invoke(*records: dict[str, Any]) -> dict[str, Any]:
    return handler.lambda_handler({"Records": list(records)}, None)


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_happy_path_authorize_capture_refund(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.send(event_body("pay_1", "authorize", "25.00"))
    stack.drain()
    stack.send(event_body("pay_1", "capture", "20.00"))
    stack.drain()
    stack.send(event_body("pay_1", "refund", 500))
    stack.drain()
    assert all(r["batchItemFailures"] == [] for r in stack.responses)
    summary = stack.ledger()["pay_1", "summary"]
    assert (summary["authorizedMinor"], summary["capturedMinor"], summary["refundedMinor"]) == (2500, 2000, 500)
    assert summary["status"] == "REFUNDED" and summary["version"] == 3
    assert len(stack.ledger()) == 4
    assert stack.queue_depth() == 0 and stack.dead_letters() == []

    out = capsys.readouterr().out
    booked = [line for line in log_lines(out) if line.get("outcome") == "recorded"]
    assert [(b["paymentId"], b["eventType"], b["region"]) for b in booked] == [
        ("pay_1", "authorize", REGION), ("pay_1", "capture", REGION), ("pay_1", "refund", REGION)]
    assert all(b["requestId"] == "req-test" and b["level"] == "INFO" for b in booked)
    docs = emf_documents(out)
    assert sum(d["processed"] for d in docs if "processed" in d) == 3
    assert sum(len(d.get("latency", [])) for d in docs) == 3
    directive = docs[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Payments" and directive["Dimensions"] == [["Service", "Region"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"processed", "duplicate", "rejected", "retried", "latency"}
    assert "s3cr3t-token" not in out  # the SecureString never reaches the logs


def test_duplicates_are_booked_once(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    body = event_body("pay_1", "authorize", "10.00")
    stack.send(body, body, event_body("pay_1", "authorize", 1000))  # producer duplicates, both spellings
    stack.drain()
    record = sqs_record(body, message_id="same")
    assert failed_ids(invoke(record)) == []  # an at-least-once redelivery of an already booked message
    rows = stack.ledger()
    assert set(rows) == {("pay_1", "summary"), ("pay_1", "event#authorize")}
    assert rows["pay_1", "summary"]["version"] == 1 and rows["pay_1", "summary"]["authorizedMinor"] == 1000
    docs = emf_documents(capsys.readouterr().out)
    assert sum(d.get("processed", 0) for d in docs) == 1
    assert sum(d.get("duplicate", 0) for d in docs) == 3
    assert stack.dead_letters() == []


def test_out_of_order_capture_is_retried_until_authorize_arrives(stack: Stack) -> None:
    stack.send(event_body("pay_1", "capture", "5.00"))
    first = stack.poll_once()
    assert first is not None and len(failed_ids(first)) == 1      # retried, not dead-lettered
    assert stack.ledger() == {} and stack.dead_letters() == []
    assert stack.queue_depth() == 1                                  # still in the source queue
    second = stack.poll_once()
    assert second is not None and len(failed_ids(second)) == 1
    stack.send(event_body("pay_1", "authorize", "5.00"))
    stack.drain()
    summary = stack.ledger()["pay_1", "summary"]
    assert (summary["authorizedMinor"], summary["capturedMinor"], summary["status"]) == (500, 500, "CAPTURED")
    assert stack.queue_depth() == 0 and stack.dead_letters() == []


def test_out_of_order_within_one_batch_resolves_in_that_invocation(stack: Stack) -> None:
    capture = sqs_record(event_body("pay_1", "capture", "5.00"))
    authorize = sqs_record(event_body("pay_1", "authorize", "5.00"))
    assert failed_ids(invoke(capture, authorize)) == []
    assert stack.ledger()["pay_1", "summary"]["capturedMinor"] == 500


def test_reverse_order_chain_within_one_batch(stack: Stack) -> None:
    refund = sqs_record(event_body("pay_1", "refund", "1.00"))
    capture = sqs_record(event_body("pay_1", "capture", "5.00"))
    authorize = sqs_record(event_body("pay_1", "authorize", "5.00"))
    assert failed_ids(invoke(refund, capture, authorize)) == []
    summary = stack.ledger()["pay_1", "summary"]
    assert (summary["authorizedMinor"], summary["capturedMinor"], summary["refundedMinor"]) == (500, 500, 100)


def test_malformed_events_go_to_dlq_with_reason(stack: Stack) -> None:
    bodies = {
        "not json at all": "schema.body",
        event_body("pay_1", "authorize", "12.345"): "schema.amount",
        event_body("pay_1", "authorize", "1.00", "XYZ"): "schema.currency",
        event_body("pay_1", "authorize", "1.00", occurredAt="yesterday"): "schema.occurredAt",
    }
    bodies[event_body("pay_1", "authorize", "__F__").replace('"__F__"', "12.5")] = "schema.amount"
    stack.send(*bodies)
    stack.drain()
    assert all(r["batchItemFailures"] == [] for r in stack.responses)  # reported success: not re-driven
    assert stack.queue_depth() == 0 and stack.ledger() == {}
    dead = stack.dead_letters()
    assert len(dead) == len(bodies)
    for message in dead:
        attrs = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attrs["rejectionCode"] == bodies[message["Body"]]            # body forwarded verbatim
        assert attrs["rejectionReason"].startswith(bodies[message["Body"]].removeprefix("schema.") + ":")
        assert attrs["rejectedInRegion"] == REGION and attrs["sourceQueueArn"] == stack.queue_arn
        assert attrs["sourceMessageId"] and attrs["receiveCount"] == "1"


def test_partial_batch_failure_isolates_the_bad_record(stack: Stack) -> None:
    good = [sqs_record(event_body(f"pay_{n}", "authorize", f"{n}.00")) for n in range(1, 5)]
    bad = sqs_record(event_body("pay_x", "authorize", -1))
    early_capture = sqs_record(event_body("pay_y", "capture", "1.00"))  # out-of-order -> retry
    response = invoke(good[0], bad, good[1], early_capture, good[2], good[3])
    assert failed_ids(response) == [early_capture["messageId"]]
    rows = stack.ledger()
    assert {k for k in rows if k[1] == "summary"} == {(f"pay_{n}", "summary") for n in range(1, 5)}
    assert all(rows[f"pay_{n}", "summary"]["version"] == 1 for n in range(1, 5))
    dead = stack.dead_letters()
    assert [d["Body"] for d in dead] == [bad["body"]]
    assert dead[0]["MessageAttributes"]["rejectionCode"]["StringValue"] == "schema.amount"
    # the good records redelivered (e.g. the function timed out after booking them): nothing is booked twice
    assert failed_ids(invoke(*good)) == []
    assert stack.ledger() == rows


def test_invalid_transition_is_dead_lettered_with_reason(stack: Stack) -> None:
    stack.send(event_body("pay_1", "authorize", "10.00"))
    stack.drain()
    stack.send(event_body("pay_1", "capture", "4.00"))
    stack.drain()
    stack.send(event_body("pay_1", "refund", "4.01"))
    stack.drain()
    assert stack.ledger()["pay_1", "summary"].get("refundedMinor") is None
    (dead,) = stack.dead_letters()
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attrs["rejectionCode"] == "ledger.refund-exceeds-capture"
    assert "401" in attrs["rejectionReason"] and "400" in attrs["rejectionReason"]


def _throttle(stack: Stack, monkeypatch: pytest.MonkeyPatch, only: str | None = None) -> list[int]:
    """Make TransactWriteItems raise ProvisionedThroughputExceededException (for one payment or all)."""
    runtime = handler._Container.runtime
    assert runtime is not None
    client = runtime.ledger._client
    real = client.transact_write_items
    calls = [0]

    def fake(**kwargs: Any) -> Any:
        payment = kwargs["TransactItems"][0]["Put"]["Item"]["paymentId"]["S"]
        if only is None or payment == only:
            calls[0] += 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "Rate exceeded"}}, "TransactWriteItems")
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", fake)
    return calls


def test_throttling_is_a_batch_item_failure_not_dlq(stack: Stack, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    calls = _throttle(stack, monkeypatch, only="pay_hot")
    hot = sqs_record(event_body("pay_hot", "authorize"))
    cool = sqs_record(event_body("pay_cool", "authorize"))
    assert failed_ids(invoke(hot, cool)) == [hot["messageId"]]
    assert calls[0] == 1
    assert set(stack.ledger()) == {("pay_cool", "summary"), ("pay_cool", "event#authorize")}
    assert stack.dead_letters() == []
    warning = next(x for x in log_lines(capsys.readouterr().out) if x.get("outcome") == "retry")
    assert warning["code"] == "ledger.throttled" and warning["paymentId"] == "pay_hot"
    monkeypatch.undo()  # throttling over: the redelivery is booked exactly once
    assert failed_ids(invoke(sqs_record(hot["body"], hot["messageId"], receive_count=2))) == []
    assert stack.ledger()["pay_hot", "summary"]["version"] == 1


def test_transient_failure_on_last_receive_is_dead_lettered_with_reason(stack: Stack) -> None:
    last = sqs_record(event_body("pay_1", "capture"), receive_count=5)  # maxReceiveCount in SSM is 5
    earlier = sqs_record(event_body("pay_2", "capture"), receive_count=4)
    assert failed_ids(invoke(last, earlier)) == [earlier["messageId"]]
    (dead,) = stack.dead_letters()
    assert dead["Body"] == last["body"]
    code = dead["MessageAttributes"]["rejectionCode"]["StringValue"]
    assert code == "retries-exhausted.ledger.out-of-order"
    assert "after 5 receives" in dead["MessageAttributes"]["rejectionReason"]["StringValue"]


def test_dlq_send_failure_keeps_the_record(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = handler._Container.runtime
    assert runtime is not None

    def broken(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "KMS.ThrottlingException", "Message": "x"}}, "SendMessage")

    monkeypatch.setattr(runtime.dead_letters._sqs, "send_message", broken)
    bad = sqs_record("{}")
    assert failed_ids(invoke(bad)) == [bad["messageId"]]  # not lost: SQS will redeliver it


def test_unexpected_error_is_retried_then_dead_lettered(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(body: str) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(handler, "parse_event", boom)
    rec = sqs_record(event_body("pay_1", "authorize"))
    assert failed_ids(invoke(rec)) == [rec["messageId"]]
    assert stack.dead_letters() == []
    final = sqs_record(rec["body"], rec["messageId"], receive_count=5)
    assert failed_ids(invoke(final)) == []
    (dead,) = stack.dead_letters()
    assert dead["MessageAttributes"]["rejectionCode"]["StringValue"] == "retries-exhausted.handler.internal-error"


def _count_ssm_calls(stack: Stack) -> list[int]:
    runtime = handler._Container.runtime
    assert runtime is not None
    calls = [0]

    def hook(**kwargs: Any) -> None:
        calls[0] += 1

    runtime.config._ssm.meta.events.register("before-call.ssm.GetParametersByPath", hook)
    return calls


def test_config_is_cached_for_the_ttl(stack: Stack) -> None:
    calls = _count_ssm_calls(stack)
    for n in range(3):
        invoke(sqs_record(event_body(f"pay_{n}", "authorize")))
    assert calls[0] == 1                     # cold start: one GetParametersByPath, warm invocations none
    stack.clock.advance(59.9)
    invoke(sqs_record(event_body("pay_9", "authorize")))
    assert calls[0] == 1
    stack.clock.advance(0.2)                 # TTL (60 s) passed
    invoke(sqs_record(event_body("pay_10", "authorize")))
    assert calls[0] == 2
    invoke(sqs_record(event_body("pay_11", "authorize")))
    assert calls[0] == 2
    runtime = handler._Container.runtime
    assert runtime is not None
    config, stale = runtime.config.get()
    assert not stale and config.max_receive_count == 5
    assert config.parameters["api/token"] == "s3cr3t-token"       # SecureString decrypted
    assert "s3cr3t" not in repr(config)


def test_stale_config_is_served_when_ssm_fails(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke(sqs_record(event_body("pay_0", "authorize")))
    runtime = handler._Container.runtime
    assert runtime is not None

    def down(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "GetParametersByPath")

    monkeypatch.setattr(runtime.config._ssm, "get_parameters_by_path", down)
    stack.clock.advance(3600)
    assert failed_ids(invoke(sqs_record(event_body("pay_1", "authorize")))) == []
    assert ("pay_1", "summary") in stack.ledger()


def test_no_config_at_cold_start_retries_everything(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = handler._Container.runtime
    assert runtime is not None

    def down(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"}}, "GetParametersByPath")

    monkeypatch.setattr(runtime.config._ssm, "get_parameters_by_path", down)
    records = [sqs_record(event_body(f"pay_{n}", "authorize")) for n in range(3)]
    assert failed_ids(invoke(*records)) == [r["messageId"] for r in records]
    assert stack.ledger() == {} and stack.dead_letters() == []


def test_standby_region_refuses_to_book(stack: Stack) -> None:
    stack.ssm.put_parameter(Name=stack.env["CONFIG_PATH"] + "activeRegion", Value="us-east-2", Type="String")
    records = [sqs_record(event_body("pay_1", "authorize")), sqs_record("garbage")]
    assert failed_ids(invoke(*records)) == [r["messageId"] for r in records]
    assert stack.ledger() == {} and stack.dead_letters() == []
    stack.ssm.put_parameter(Name=stack.env["CONFIG_PATH"] + "activeRegion", Value=REGION, Type="String",
                            Overwrite=True)
    stack.clock.advance(61)  # the switch reaches warm containers within one TTL
    assert failed_ids(invoke(*records)) == []
    assert ("pay_1", "summary") in stack.ledger() and len(stack.dead_letters()) == 1


def test_fifo_queue_stops_at_first_failure(stack: Stack) -> None:
    arn = f"arn:aws:sqs:{REGION}:123456789012:payments.fifo"
    ok = sqs_record(event_body("pay_1", "authorize"), arn=arn)
    early = sqs_record(event_body("pay_2", "capture"), arn=arn)          # out-of-order -> retry
    after = sqs_record(event_body("pay_3", "authorize"), arn=arn)        # must not overtake it
    assert failed_ids(invoke(ok, early, after)) == [early["messageId"], after["messageId"]]
    assert {k[0] for k in stack.ledger()} == {"pay_1"}


def test_empty_batch(stack: Stack) -> None:
    assert invoke() == {"batchItemFailures": []}


@pytest.mark.parametrize(("env", "message"), [
    ({}, "AWS_REGION"),
    ({"AWS_REGION": "us-east-1", "LEDGER_TABLE": "t", "DLQ_URL": "u"}, "CONFIG_PATH"),
    ({"AWS_REGION": "us-east-1", "LEDGER_TABLE": "t", "DLQ_URL": "u", "CONFIG_PATH": "payments"}, "start and end"),
    ({"AWS_REGION": "us-east-1", "LEDGER_TABLE": "t", "DLQ_URL": "u", "CONFIG_PATH": "/p/",
      "CONFIG_TTL_SECONDS": "soon"}, "CONFIG_TTL_SECONDS"),
])
def test_settings_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_settings_from_env() -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-2", "LEDGER_TABLE": "t", "DLQ_URL": "u",
                                  "CONFIG_PATH": "/payments/prod/us-east-2/"})
    assert settings.region == "us-east-2" and settings.config_ttl_seconds == 60.0
    assert settings.payments_api_endpoint is None


def test_powertools_style_environment_names_are_honoured(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    env = dict(stack.env, POWERTOOLS_SERVICE_NAME="payments-processor", POWERTOOLS_METRICS_NAMESPACE="PayNS",
               AWS_LAMBDA_LOG_LEVEL="WARN")
    handler.reset_runtime(handler.build_runtime(env, clock=stack.clock))
    invoke(sqs_record(event_body("pay_1", "authorize")), sqs_record("broken"))
    out = capsys.readouterr().out
    (doc,) = emf_documents(out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PayNS" and doc["Service"] == "payments-processor"
    lines = log_lines(out)
    assert lines and all(line["level"] == "WARNING" for line in lines)   # INFO filtered at WARN
    assert all(line["service"] == "payments-processor" for line in lines)

"""EMF documents respect CloudWatch limits; logs are one JSON object per line."""

from __future__ import annotations

import io
import json

from payments.observability import Metrics, configure_logger, set_request_id


def test_emf_counters_and_chunked_latencies() -> None:
    metrics = Metrics("us-east-2", namespace="PaymentsTest")
    metrics.count("processed", 240)
    metrics.count("rejected")
    for n in range(250):
        metrics.latency(n / 10)
    out = io.StringIO()
    metrics.flush(out)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(docs) == 3                                            # 100 + 100 + 50 latency values
    assert [len(d["latency"]) for d in docs] == [100, 100, 50]
    assert docs[0]["processed"] == 240 and docs[0]["rejected"] == 1 and docs[0]["duplicate"] == 0
    assert "processed" not in docs[1]                                # counters are not double counted
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "PaymentsTest"
        assert doc["Region"] == "us-east-2" and doc["Service"] == "payment-processor"
        declared = {m["Name"] for m in directive["Metrics"]}
        assert declared <= set(doc)                                  # every declared metric has a value
        assert isinstance(doc["_aws"]["Timestamp"], int)
    assert metrics.counts["processed"] == 0 and metrics.latencies_ms == []   # reset after flush


def test_emf_without_latency_still_reports_zero_counters() -> None:
    out = io.StringIO()
    Metrics("us-east-1").flush(out)
    (doc,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert doc["processed"] == 0 and "latency" not in doc


def test_json_log_lines() -> None:
    stream = io.StringIO()
    logger = configure_logger("us-east-1", "info", stream)
    set_request_id(logger, "req-1")
    logger.warning("payment event retry", extra={"paymentId": "pay_1", "code": "ledger.throttled"})
    set_request_id(logger, None)
    logger.debug("hidden at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["level"] == "WARNING" and first["region"] == "us-east-1" and first["requestId"] == "req-1"
    assert first["paymentId"] == "pay_1" and first["code"] == "ledger.throttled"
    assert first["timestamp"].endswith("Z")
    assert "requestId" not in lines[1] and "ValueError: boom" in lines[1]["exception"]

"""Benchmark of the payment processor Lambda (lambda/payments).

Measures, on this machine, pinned to one CPU:

1. cold import of ``payments.handler`` in a fresh interpreter, from the *deployment zip's* files
   with no ``.pyc`` (Lambda's /var/task is read-only, so sources are compiled at every cold start),
   median of N subprocesses; also the first-invocation init (botocore import + 3 clients) and a bare
   interpreter start for reference;
2. events/second through ``process_batch`` (our full code path: parse, ledger transaction,
   classification, JSON logs, EMF) against **moto in-process** (DynamoDB, SQS, SSM, KMS);
3. the same code path against a **stubbed in-memory DynamoDB client**, which separates our code's
   cost from moto's (moto spends ~10-15 ms per API call emulating DynamoDB).

Usage: .venv/bin/python bench/lambda_bench.py [--runs 5] [--import-runs 21] [--moto-events 600]
                                              [--stub-events 30000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambda"))

from payments import handler  # noqa: E402
from payments.build import build_package  # noqa: E402
from payments.config import ConfigCache, Settings  # noqa: E402
from payments.ledger import Ledger  # noqa: E402
from payments.observability import Metrics, configure_logger  # noqa: E402

REGION = "us-east-1"
PATH = "/payments/bench/us-east-1/"
_ids = itertools.count()


def body(payment: str, type_: str, amount: str) -> str:
    return json.dumps({"schemaVersion": "1", "paymentId": payment, "type": type_, "amount": amount,
                       "currency": "USD", "merchantId": "m_1", "customerId": "c_1",
                       "occurredAt": "2025-03-01T12:00:00Z"})


def record(text: str) -> dict[str, Any]:
    return {"messageId": f"m-{next(_ids)}", "receiptHandle": "r", "body": text,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:payments",
            "awsRegion": REGION}


def batches(n_events: int, tag: str, duplicate_every: int = 0) -> list[list[dict[str, Any]]]:
    """Batches of 10: each payment's authorize, capture, refund in causal order (no retries),
    optionally re-sending every k-th event (duplicate path)."""
    events: list[dict[str, Any]] = []
    unique = 0
    for n in range(n_events // 3):
        for type_, amount in (("authorize", "100.00"), ("capture", "80.00"), ("refund", "30.00")):
            events.append(record(body(f"{tag}-{n}", type_, amount)))
            unique += 1
            if duplicate_every and unique % duplicate_every == 0:
                events.append(record(events[-1]["body"]))
    return [events[i:i + 10] for i in range(0, len(events), 10)]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Logs and EMF are still formatted and written (their cost counts), just to /dev/null."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def run(rt: handler.Runtime, work: list[list[dict[str, Any]]]) -> tuple[float, float, int]:
    events = sum(len(b) for b in work)
    with quiet():
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in work:
            if handler.process_batch(rt, {"Records": batch})["batchItemFailures"]:
                raise AssertionError("unexpected retry in benchmark batch")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return events / wall, events / cpu, events


class StubDynamoDB:
    """In-memory stand-in for the two DynamoDB calls: enforces the idempotency condition on the event
    item (so duplicates take the real classification path) and stores the summary update values."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        put, update = kwargs["TransactItems"][0]["Put"], kwargs["TransactItems"][1]["Update"]
        item = put["Item"]
        key = (item["paymentId"]["S"], item["recordId"]["S"])
        if key in self.items:
            error = StubClientError("TransactionCanceledException")
            error.response["CancellationReasons"] = [
                {"Code": "ConditionalCheckFailed", "Item": self.items[key]}, {"Code": "None"}]
            raise error
        self.items[key] = item
        summary = (update["Key"]["paymentId"]["S"], "summary")
        self.items.setdefault(summary, dict(update["Key"])).update(update["ExpressionAttributeValues"])
        return {}

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        key = kwargs["Key"]
        found = self.items.get((key["paymentId"]["S"], key["recordId"]["S"]))
        return {"Item": found} if found else {}


class StubClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response: dict[str, Any] = {"Error": {"Code": code}}


class StubSSM:
    def get_parameters_by_path(self, **kwargs: Any) -> dict[str, Any]:
        return {"Parameters": [{"Name": PATH + "maxReceiveCount", "Value": "5"}]}


class StubSQS:
    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        return {"MessageId": "x"}


def stub_runtime() -> tuple[handler.Runtime, Callable[[], None]]:
    from payments.deadletter import DeadLetterQueue  # noqa: PLC0415
    return handler.Runtime(
        settings=Settings(REGION, "ledger", "dlq", PATH),
        ledger=Ledger(StubDynamoDB(), "ledger", REGION),
        dead_letters=DeadLetterQueue(StubSQS(), "dlq", REGION),
        config=ConfigCache(StubSSM(), PATH, 60),
        logger=configure_logger(REGION, "INFO"),
        metrics=Metrics(REGION),
    ), lambda: None


class _CannedRaw:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.payload


def canned_runtime() -> tuple[handler.Runtime, Callable[[], None]]:
    """Real botocore clients (serialise, sign, parse) whose HTTP send is replaced by a canned 200."""
    import botocore.session  # noqa: PLC0415
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415

    canned = {"TransactWriteItems": b"{}", "GetParametersByPath": b'{"Parameters": []}'}

    def send(request: Any, **kwargs: Any) -> AWSResponse:
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "r"}, _CannedRaw(canned.get(operation, b"{}")))

    session = botocore.session.get_session()
    session.set_credentials("x", "x")
    session.register("before-send", send)
    env = {"AWS_REGION": REGION, "LEDGER_TABLE": "ledger", "CONFIG_PATH": PATH,
           "DLQ_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/dlq"}
    return handler.build_runtime(env, session=session), lambda: None


def moto_runtime() -> tuple[handler.Runtime, Callable[[], None]]:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    mock = mock_aws()
    mock.start()
    ddb, sqs, ssm, kms = (boto3.client(n, region_name=REGION) for n in ("dynamodb", "sqs", "ssm", "kms"))
    key = kms.create_key()["KeyMetadata"]["Arn"]
    ddb.create_table(
        TableName="ledger", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "paymentId", "AttributeType": "S"},
                              {"AttributeName": "recordId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "paymentId", "KeyType": "HASH"},
                   {"AttributeName": "recordId", "KeyType": "RANGE"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
    dlq = sqs.create_queue(QueueName="dlq", Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    ssm.put_parameter(Name=PATH + "maxReceiveCount", Value="5", Type="String")
    env = {"AWS_REGION": REGION, "LEDGER_TABLE": "ledger", "DLQ_URL": dlq, "CONFIG_PATH": PATH}
    return handler.build_runtime(env), mock.stop


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):,.1f}, min {min(values):,.1f}, max {max(values):,.1f}"


def subprocess_ms(code: str, pythonpath: str, runs: int) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of ``code`` in ``runs`` fresh interpreters; CPU time is the figure that a busy,
    shared machine distorts least."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env |= {"PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    walls, cpus = [], []
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        wall, cpu = result.stdout.split()
        walls.append(float(wall))
        cpus.append(float(cpu))
    return walls, cpus


def cold_start(runs: int) -> dict[str, tuple[list[float], list[float]]]:
    data, _ = build_package()
    with tempfile.TemporaryDirectory() as task:  # plays /var/task: the unzipped deployment package
        zipfile.ZipFile(io.BytesIO(data)).extractall(task)
        timed = ("import time; t, c = time.perf_counter(), time.process_time(); {}; "
                 "print((time.perf_counter()-t)*1000, (time.process_time()-c)*1000)")
        init = ("import payments.handler as h; h.build_runtime({'AWS_REGION':'us-east-1','LEDGER_TABLE':'t',"
                "'DLQ_URL':'https://sqs.us-east-1.amazonaws.com/1/d','CONFIG_PATH':'/p/'})")
        interpreter = [sys.executable, "-c", "pass"]
        starts, start_cpus = [], []
        for _ in range(runs):
            t, before = time.perf_counter(), os.times()
            subprocess.run(interpreter, check=True)
            after = os.times()
            starts.append((time.perf_counter() - t) * 1000)
            start_cpus.append((after.children_user + after.children_system
                               - before.children_user - before.children_system) * 1000)
        return {
            "import payments.handler (from the zip, no .pyc)": subprocess_ms(
                timed.format("import payments.handler"), task, runs),
            "import + first-invocation init (botocore + 3 clients)": subprocess_ms(timed.format(init), task, runs),
            "bare interpreter start and exit (reference, whole process)": (starts, start_cpus),
        }


def measure(name: str, make: Callable[[], tuple[handler.Runtime, Callable[[], None]]], events: int, runs: int,
            duplicate_every: int = 0) -> tuple[list[float], list[float], int]:
    walls, cpus, count = [], [], 0
    for r in range(runs):
        rt, cleanup = make()
        try:
            run(rt, batches(30, f"warm-{name}-{r}"))  # cold start (config load) is not throughput
            wall, cpu, count = run(rt, batches(events, f"{name}-{r}", duplicate_every))
        finally:
            cleanup()
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus, count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--import-runs", type=int, default=21)
    parser.add_argument("--moto-events", type=int, default=600)
    parser.add_argument("--stub-events", type=int, default=30000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core; children inherit it
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    import boto3  # noqa: PLC0415
    import moto  # noqa: PLC0415
    print(f"machine: {cpu}, {os.cpu_count()} logical CPUs (benchmark pinned to 1), {platform.platform()}")
    print(f"python {platform.python_version()}, boto3 {boto3.__version__}, moto {moto.__version__}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n")

    for label, (walls, cpus) in cold_start(args.import_runs).items():
        print(f"cold {label}, ms over {args.import_runs} fresh processes:")
        print(f"  wall: {spread(walls)}")
        print(f"  CPU:  {spread(cpus)}")
    print()
    scenarios: list[tuple[str, Callable[[], tuple[handler.Runtime, Callable[[], None]]], int, int]] = [
        # moto's TransactWriteItems deep-copies every table for its rollback, so its rate falls as the
        # ledger grows: measured on a small table and on a larger one.
        ("moto in-process, unique events, small table", moto_runtime, 90, 0),
        ("moto in-process, unique events", moto_runtime, args.moto_events, 0),
        ("real botocore clients, HTTP replaced by canned 200s (no moto, no network), unique events",
         canned_runtime, args.moto_events * 5, 0),
        ("stubbed in-memory DynamoDB, unique events", stub_runtime, args.stub_events, 0),
        ("stubbed in-memory DynamoDB, 1 in 4 deliveries a duplicate", stub_runtime, args.stub_events, 3),
    ]
    for name, make, events, dup in scenarios:
        walls, cpus, count = measure(name.split(",")[0].replace(" ", "-"), make, events, args.runs, dup)
        print(f"{name}: {count} events x {args.runs} runs, batches of 10")
        print(f"  events/s (wall, 1 core): {spread(walls)}")
        print(f"  events/s (CPU time):     {spread(cpus)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

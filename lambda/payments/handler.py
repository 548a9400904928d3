"""SQS batch handler: ``payments.handler.lambda_handler`` (event source mapping with
``FunctionResponseTypes=["ReportBatchItemFailures"]``).

Every record ends in exactly one place:

* booked once in the ledger (``processed``; a redelivery of a booked event is a ``duplicate``);
* sent to the DLQ with ``rejectionCode``/``rejectionReason`` attributes and then reported as a
  success so SQS deletes it (``rejected``): malformed events, illegal transitions, and transient
  failures still failing on the queue's last allowed receive (``maxReceiveCount``);
* reported in ``batchItemFailures`` so SQS redelivers it after the visibility timeout
  (``retried``): throttling, contention, outages, out-of-order events, a failed DLQ send.

Nothing is dropped: a record is only reported successful after its ledger write or DLQ send
returned. Out-of-order records (a capture before its authorize) of a standard-queue batch are
re-attempted after the rest of the batch, as long as that keeps booking records: the missing
predecessor is often in the same batch.

botocore is imported lazily on the first invocation so that importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from payments.config import ConfigCache, RuntimeConfig, Settings
from payments.deadletter import DeadLetterQueue
from payments.ledger import Ledger, LedgerRejection, Outcome, TransientLedgerError
from payments.observability import DEFAULT_NAMESPACE, DEFAULT_SERVICE, Metrics, configure_logger, set_request_id
from payments.schema import InvalidEvent, PaymentEvent, parse_event

BatchResponse = dict[str, list[dict[str, str]]]
_T = TypeVar("_T")


class Result(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead-lettered"
    RETRY = "retry"


_METRIC = {Result.RECORDED: "processed", Result.DUPLICATE: "duplicate",
           Result.DEAD_LETTERED: "rejected", Result.RETRY: "retried"}


@dataclass
class Runtime:
    """Per-container state, built once (cold start) and reused by warm invocations."""

    settings: Settings
    ledger: Ledger
    dead_letters: DeadLetterQueue
    config: ConfigCache
    logger: logging.Logger
    metrics: Metrics


@dataclass
class _Pending:
    """A transient failure whose final fate (retry or exhausted -> DLQ) is decided at batch end."""

    event: PaymentEvent | None
    error: TransientLedgerError


def build_runtime(
    env: Mapping[str, str] | None = None, clock: Callable[[], float] | None = None, session: Any = None
) -> Runtime:
    """Create clients and caches from ``env`` (default ``os.environ``).

    ``session`` is a ``botocore.session.Session`` (default: a new one). Plain botocore, not boto3:
    only low-level clients are used, and skipping boto3 (and the s3transfer it imports) saves
    ~50-90 ms of every cold start. botocore is imported lazily on purpose: ~250 ms paid by the
    first invocation, not by whoever merely imports this module.
    """
    import botocore.session  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    env = os.environ if env is None else env
    settings = Settings.from_env(env)
    session = session or botocore.session.get_session()
    client_config = Config(
        region_name=settings.region, retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3, read_timeout=10,
    )
    # Our own names first; the Powertools / Lambda log-level variables are honoured so a function rendered
    # for Powertools conventions behaves the same.
    service = env.get("SERVICE_NAME") or env.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE
    namespace = env.get("METRICS_NAMESPACE") or env.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    level = env.get("LOG_LEVEL") or env.get("AWS_LAMBDA_LOG_LEVEL") or env.get("POWERTOOLS_LOG_LEVEL") or "INFO"
    logger = configure_logger(settings.region, level, service=service)
    return Runtime(
        settings=settings,
        ledger=Ledger(session.create_client("dynamodb", config=client_config), settings.ledger_table,
                      settings.region),
        dead_letters=DeadLetterQueue(session.create_client("sqs", config=client_config), settings.dlq_url,
                                     settings.region),
        config=ConfigCache(session.create_client("ssm", config=client_config), settings.config_path,
                           settings.config_ttl_seconds, **({"clock": clock} if clock else {})),
        logger=logger,
        metrics=Metrics(settings.region, namespace, service),
    )


class _Container:
    """Holds the runtime for the life of the execution environment (module globals, without ``global``)."""

    runtime: Runtime | None = None


def reset_runtime(runtime: Runtime | None = None) -> None:
    """Replace the container's runtime (tests; ``None`` forces a rebuild on the next invocation)."""
    _Container.runtime = runtime


def lambda_handler(event: Mapping[str, Any], context: Any) -> BatchResponse:
    """Lambda entry point."""
    if _Container.runtime is None:
        _Container.runtime = build_runtime()
    return process_batch(_Container.runtime, event, getattr(context, "aws_request_id", None))


def process_batch(rt: Runtime, event: Mapping[str, Any], request_id: str | None = None) -> BatchResponse:
    """Process one SQS batch and return the records SQS must redeliver."""
    set_request_id(rt.logger, request_id)
    records: list[Mapping[str, Any]] = list(event.get("Records") or [])
    started = time.perf_counter()
    try:
        results = _Batch(rt, records).run()
    finally:
        rt.metrics.flush()
    failures = [{"itemIdentifier": str(records[i].get("messageId", ""))}
                for i, result in enumerate(results) if result is Result.RETRY]
    rt.logger.info("batch done", extra={"batchSize": len(records),
                                        "durationMs": round((time.perf_counter() - started) * 1000, 3),
                                        "outcome": {r.value: results.count(r) for r in Result}})
    return {"batchItemFailures": failures}


class _Batch:
    def __init__(self, rt: Runtime, records: list[Mapping[str, Any]]) -> None:
        self.rt = rt
        self.records = records
        # FIFO queues: after the first failure every later record must be retried too, in order.
        self.fifo = any(str(r.get("eventSourceARN", "")).endswith(".fifo") for r in records)
        self.elapsed = [0.0] * len(records)  # seconds spent on each record, over all its attempts
        self.config = RuntimeConfig()

    def run(self) -> list[Result]:
        rt = self.rt
        try:
            config, stale = rt.config.get()
        except Exception:
            rt.logger.exception("configuration unavailable; retrying the whole batch")
            return self._finish_all(Result.RETRY)
        if stale:
            rt.logger.warning("SSM refresh failed; using the previously loaded configuration")
        if config.active_region and config.active_region != rt.settings.region:
            rt.logger.warning(f"standby region (active is {config.active_region}); retrying the whole batch")
            return self._finish_all(Result.RETRY)
        self.config = config
        results: list[Result | None] = [None] * len(self.records)
        pending: dict[int, _Pending] = {}
        blocked = False
        for i, record in enumerate(self.records):
            if blocked:
                results[i] = self._finish(i, Result.RETRY, code="fifo.blocked", reason="earlier record failed")
                continue
            attempt = self._timed(i, self._attempt, i, record, None)
            if isinstance(attempt, _Pending):
                if not self.fifo:
                    pending[i] = attempt
                    continue
                attempt = self._timed(i, self._settle, i, attempt)
            results[i] = attempt
            blocked = self.fifo and attempt is Result.RETRY
        # Out-of-order records are re-attempted while the batch keeps booking their predecessors
        # (authorize, capture and refund of one payment in one batch, in any order). Each round that
        # continues has removed at least one record from ``pending``, so this terminates.
        progress = Result.RECORDED in results
        while pending and progress:
            progress = False
            for i, waiting in list(pending.items()):
                if waiting.event is not None and waiting.error.out_of_order:
                    again = self._timed(i, self._attempt, i, self.records[i], waiting.event)
                    if isinstance(again, Result):
                        results[i] = again
                        del pending[i]
                        progress = progress or again is Result.RECORDED
                    else:
                        pending[i] = again
        for i, waiting in pending.items():
            results[i] = self._timed(i, self._settle, i, waiting)
        for seconds in self.elapsed:
            self.rt.metrics.latency(seconds * 1000)
        return [r if r is not None else Result.RETRY for r in results]

    def _timed(self, i: int, step: Callable[..., _T], *args: Any) -> _T:
        started = time.perf_counter()
        try:
            return step(*args)
        finally:
            self.elapsed[i] += time.perf_counter() - started

    def _attempt(self, i: int, record: Mapping[str, Any], event: PaymentEvent | None) -> Result | _Pending:
        try:
            if event is None:
                try:
                    event = parse_event(str(record.get("body", "")))
                except InvalidEvent as exc:
                    return self._dead_letter(i, exc.code, str(exc), None)
            try:
                outcome = self.rt.ledger.record(event, str(record.get("messageId", "")))
            except LedgerRejection as exc:
                return self._dead_letter(i, exc.code, exc.reason, event)
            except TransientLedgerError as exc:
                return _Pending(event, exc)
        except Exception as exc:  # a bug must not lose the record: retry, dead-letter when exhausted
            self.rt.logger.exception("unexpected error", extra={"messageId": record.get("messageId")})
            return _Pending(event, TransientLedgerError("handler.internal-error", type(exc).__name__))
        result = Result.RECORDED if outcome is Outcome.RECORDED else Result.DUPLICATE
        return self._finish(i, result, event)

    def _settle(self, i: int, waiting: _Pending) -> Result:
        attributes = self.records[i].get("attributes") or {}
        try:
            receives = int(attributes.get("ApproximateReceiveCount", 1))
        except (TypeError, ValueError):
            receives = 1
        error = waiting.error
        if receives >= self.config.max_receive_count:
            return self._dead_letter(i, f"retries-exhausted.{error.code}",
                                     f"still failing after {receives} receives: {error.reason}", waiting.event)
        return self._finish(i, Result.RETRY, waiting.event, code=error.code, reason=error.reason, receives=receives)

    def _dead_letter(self, i: int, code: str, reason: str, event: PaymentEvent | None) -> Result:
        try:
            self.rt.dead_letters.send(self.records[i], code, reason)
        except Exception:
            self.rt.logger.exception("DLQ send failed; record will be retried",
                                     extra={"messageId": self.records[i].get("messageId"), "code": code})
            return self._finish(i, Result.RETRY, event, code="dlq.send-failed", reason=reason)
        return self._finish(i, Result.DEAD_LETTERED, event, code=code, reason=reason)

    def _finish(self, i: int, result: Result, event: PaymentEvent | None = None, *, code: str | None = None,
                reason: str | None = None, receives: int | None = None) -> Result:
        record = self.records[i]
        self.rt.metrics.count(_METRIC[result])
        level = logging.INFO if result in (Result.RECORDED, Result.DUPLICATE) else logging.WARNING
        self.rt.logger.log(level, f"payment event {result.value}", extra={
            "paymentId": event.payment_id if event else None, "eventType": event.type.value if event else None,
            "messageId": record.get("messageId"), "outcome": result.value, "code": code, "reason": reason,
            "receiveCount": receives,
        })
        return result

    def _finish_all(self, result: Result) -> list[Result]:
        return [self._finish(i, result) for i in range(len(self.records))]

"""Structured JSON logs and CloudWatch Embedded Metric Format (EMF) metrics on stdout.

Why not Powertools: these ~100 lines are the only parts we need, they keep the cold import
small (Powertools' logger+metrics+batch add ~150 ms of imports) and they make the deployable
artefact independent of a layer version. Both outputs go to stdout, which Lambda ships to
CloudWatch Logs; CloudWatch extracts EMF documents into metrics, so no ``PutMetricData`` call
(and no IAM permission for it) is needed.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Final, TextIO

DEFAULT_SERVICE: Final = "payment-processor"
DEFAULT_NAMESPACE: Final = "Payments"
#: Metric names and units; all are emitted on every flush (zeros included) so alarms see data.
COUNTERS: Final = ("processed", "duplicate", "rejected", "retried")
LATENCY: Final = "latency"
_EMF_MAX_VALUES: Final = 100  # EMF limit on values per metric per document
_CONTEXT_FIELDS: Final = ("paymentId", "messageId", "eventType", "outcome", "code", "reason",
                          "receiveCount", "batchSize", "durationMs")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, region, request id and known context fields."""

    def __init__(self, static: dict[str, str]) -> None:
        super().__init__()
        self.static = static

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            **self.static,
        }
        for name in _CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, separators=(",", ":"), default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at emit time (runtime or test capture may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logger(region: str, level: str = "INFO", stream: TextIO | None = None,
                     service: str = DEFAULT_SERVICE) -> logging.Logger:
    """Return the ``payments`` logger writing JSON to ``stream`` (stdout), replacing old handlers."""
    logger = logging.getLogger("payments")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.setFormatter(JsonFormatter({"service": service, "region": region}))
    logger.addHandler(handler)
    logger.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    logger.propagate = False  # the Lambda runtime's root handler would print a second, plain line
    return logger


def set_request_id(logger: logging.Logger, request_id: str | None) -> None:
    """Stamp the Lambda request id on every following log line of this invocation."""
    for handler in logger.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            if request_id:
                handler.formatter.static["requestId"] = request_id
            else:
                handler.formatter.static.pop("requestId", None)


class Metrics:
    """Accumulates one invocation's counters and latencies; :meth:`flush` prints EMF documents."""

    def __init__(self, region: str, namespace: str = DEFAULT_NAMESPACE, service: str = DEFAULT_SERVICE) -> None:
        self.region = region
        self.namespace = namespace
        self.service = service
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.latencies_ms: list[float] = []

    def count(self, name: str, value: int = 1) -> None:
        self.counts[name] += value

    def latency(self, milliseconds: float) -> None:
        self.latencies_ms.append(round(milliseconds, 3))

    def documents(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """EMF documents: counters in the first, latencies chunked to <= 100 values each."""
        stamp = now_ms if now_ms is not None else int(time.time() * 1000)
        chunks = [self.latencies_ms[i:i + _EMF_MAX_VALUES]
                  for i in range(0, len(self.latencies_ms), _EMF_MAX_VALUES)] or [[]]
        docs = []
        for index, chunk in enumerate(chunks):
            metrics: list[dict[str, str]] = []
            doc: dict[str, Any] = {"Service": self.service, "Region": self.region}
            if index == 0:
                metrics += [{"Name": name, "Unit": "Count"} for name in COUNTERS]
                doc.update(self.counts)
            if chunk:
                metrics.append({"Name": LATENCY, "Unit": "Milliseconds"})
                doc[LATENCY] = chunk
            doc["_aws"] = {
                "Timestamp": stamp,
                "CloudWatchMetrics": [
                    {"Namespace": self.namespace, "Dimensions": [["Service", "Region"]], "Metrics": metrics}
                ],
            }
            docs.append(doc)
        return docs

    def flush(self, stream: TextIO | None = None) -> None:
        out = stream if stream is not None else sys.stdout
        for doc in self.documents():
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
        out.flush()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.latencies_ms = []

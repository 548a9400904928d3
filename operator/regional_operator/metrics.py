"""Prometheus metrics of the operator (served on --metrics-port, default 9090). Documented in docs/metrics.md."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter("regional_operator_reconciles_total", "Reconcile passes by result", ["result"])
RECONCILE_SECONDS = Histogram("regional_operator_reconcile_duration_seconds", "Duration of one reconcile pass",
                              buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
MR_APPLIES = Counter("regional_operator_mr_applies_total", "Server-side applies of managed resources", ["kind"])
MR_DELETES = Counter("regional_operator_mr_deletes_total", "Deletions of managed resources requested", ["kind"])
MANAGED_RESOURCES = Gauge("regional_operator_managed_resources", "Managed resources by kind and readiness",
                          ["kind", "ready"])
API_ERRORS = Gauge("regional_operator_api_request_errors", "API request errors seen by the operator's client")
WATCH_EVENTS = Counter("regional_operator_watch_events_total", "Watch events received, by resource", ["resource"])
LAST_WATCH_EVENT = Gauge("regional_operator_last_watch_event_timestamp_seconds",
                         "Unix time of the last watch event (alert when it stops moving: kopf's silent-watch stall)")
DEPLOYMENTS = Gauge("regional_operator_deployments", "RegionalDeployments by Ready status", ["ready"])


def watch_event(resource: str) -> None:
    WATCH_EVENTS.labels(resource).inc()
    LAST_WATCH_EVENT.set(time.time())


def serve(port: int) -> None:
    """Start the metrics HTTP server (a daemon thread); port 0 disables it."""
    if port:
        start_http_server(port)

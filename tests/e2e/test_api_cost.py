"""A no-op resync makes zero write requests, proved with the API server's own apiserver_request_total."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from devtools.controlplane.namespaces import wait_no_terminating_namespace
from devtools.processes import free_port
from tests.e2e.conftest import Env, load_example

pytestmark = pytest.mark.cluster

WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}


def _settled(env: Env, timeout: float = 240.0) -> None:
    """No namespace being deleted: the write counters are the API server's, cluster-wide (see
    wait_no_terminating_namespace)."""
    wait_no_terminating_namespace(env.cp, timeout)


def _writes(env: Env) -> float:
    """Writes to our CR (incl. status) and to every MR group, summed over verbs."""
    total = 0.0
    for sample in env.cp.metrics():
        group = sample.labels.get("group", "")
        if sample.labels.get("verb") in WRITE_VERBS and (
                group.endswith(".aws.m.upbound.io") or group == "platform.regional.io"):
            total += sample.value
    return total


def _reconciles(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(m) for m in re.findall(r'^regional_operator_reconciles_total\{result="ok"\} (\S+)$', text, re.M))


def test_noop_resync_makes_zero_writes(env: Env) -> None:
    metrics_port = free_port()
    env.start_simulator()
    env.start_operator(REGIONAL_OPERATOR_RESYNC_SECONDS="1", REGIONAL_OPERATOR_METRICS_PORT=str(metrics_port))
    cr = load_example("two-region.yaml")
    env.apply(cr)
    env.wait_condition(cr["metadata"]["name"], "Ready", "True", timeout=180)
    time.sleep(2)  # let the last status write and simulator updates settle
    _settled(env)
    writes_before, passes_before = _writes(env), _reconciles(metrics_port)
    time.sleep(5)
    writes_after, passes_after = _writes(env), _reconciles(metrics_port)
    assert passes_after - passes_before >= 3, "the resync did not run; the measurement would prove nothing"
    assert writes_after - writes_before == 0, f"{writes_after - writes_before} writes during no-op resyncs"

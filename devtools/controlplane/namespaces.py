"""Throw-away namespaces for tests on the real API server, and the release of ones nobody can finish deleting."""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Iterator

from .harness import ControlPlane

EPHEMERAL_LABEL = "regional-operator.test/ephemeral=true"

# The namespace controller's condition messages name what is left, e.g.
# "Some resources are remaining: vpcs.ec2.aws.m.upbound.io has 3 resource instances".
_REMAINING = re.compile(r"([a-z0-9-]+(?:\.[a-z0-9-]+)+) has \d+ resource instances")


@contextlib.contextmanager
def ephemeral_namespace(cp: ControlPlane, prefix: str = "test") -> Iterator[str]:
    """A fresh `<prefix>-<8 hex>` namespace, labelled as a test's, deleted afterwards without waiting (the namespace
    controller empties it)."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    cp.kubectl("create", "namespace", name)
    cp.kubectl("label", "namespace", name, EPHEMERAL_LABEL)
    try:
        yield name
    finally:
        cp.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def _terminating_test_namespaces(cp: ControlPlane) -> list[dict]:
    items = cp.kubectl_json("get", "namespaces", "-l", EPHEMERAL_LABEL)["items"]
    return [n for n in items if n.get("status", {}).get("phase") == "Terminating"]


def release_stuck_namespaces(cp: ControlPlane) -> list[str]:
    """Drop the finalizers of what is left in terminating test namespaces; return what was released.

    A test's provider stand-in (the simulator) puts a finalizer on every MR and is stopped when the test ends. An MR
    still there at that moment (the namespace deletion outlasted the test's wait) keeps its namespace Terminating
    forever, and the namespace controller's retries count as writes in the API server's cluster-wide counters. Only
    namespaces labelled as a test's are touched; the test that made them is over, so nobody else will release them.
    """
    released: list[str] = []
    for ns in _terminating_test_namespaces(cp):
        name = ns["metadata"]["name"]
        messages = " ".join(c.get("message", "") for c in ns["status"].get("conditions", []))
        for resource in sorted(set(_REMAINING.findall(messages))):
            objs = cp.kubectl("get", resource, "-n", name, "-o", "name", check=False).stdout.split()
            for obj in objs:
                cp.kubectl("patch", obj, "-n", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                           check=False)
                released.append(f"{name}/{obj}")
    return released


def wait_no_terminating_namespace(cp: ControlPlane, timeout: float = 240.0) -> None:
    """Wait until no namespace is being deleted, releasing test namespaces that cannot finish on their own.

    The API server's request counters are cluster-wide: an earlier test's namespace being emptied (hundreds of MR
    deletes and finalizer patches) would count as writes of a later test's quiet window.
    """
    deadline = time.monotonic() + timeout
    while True:
        phases = [n["status"].get("phase") for n in cp.kubectl_json("get", "namespaces")["items"]]
        if "Terminating" not in phases:
            return
        release_stuck_namespaces(cp)
        stuck = [n["metadata"]["name"] for n in cp.kubectl_json("get", "namespaces")["items"]
                 if n["status"].get("phase") == "Terminating"]
        assert time.monotonic() < deadline, f"namespaces still terminating after {timeout:.0f}s: {stuck}"
        time.sleep(1)

"""Throw-away namespaces for tests on the real API server."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from .harness import ControlPlane

EPHEMERAL_LABEL = "regional-operator.test/ephemeral=true"


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

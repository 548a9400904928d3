"""!!! TEST-ONLY - NEVER SHIPPED !!!  A fake Crossplane AWS provider for the test suite and the demo.

Nothing here talks to AWS or belongs in the operator image: it is an asyncio controller that watches the managed
resources our operator applies to a test API server and answers the way provider-upjet-aws v2 would - finalizer,
conditions at the current generation, plausible ``status.atProvider`` values, late-initialized spec fields,
deletion - plus switches to inject provider errors and stuck deletions.

In-process (tests)::

    async with running_simulator(control_plane, namespace=ns, ready_delay=0.1) as sim:
        sim.fail("ec2/VPC", "my-vpc", "InvalidVpcRange: simulated")

As a subprocess (demo, e2e fault tests)::

    python -m devtools.simulator --kubeconfig PATH [--namespace NS] [--ready-delay S]

Annotations ``sim.regional.io/fail: "<reason>"`` and ``sim.regional.io/stick: "true"`` on an MR have the same
effect as ``fail()`` and ``stick()`` for a simulator running in another process.
"""

from __future__ import annotations

from .facts import LATE_INIT, Subject, at_provider, identity
from .provider import (
    CONNECTIONS_NEEDED,
    FAIL_ANNOTATION,
    FIELD_MANAGER,
    FINALIZER,
    LABEL_SELECTOR,
    NOT_FOUND_MESSAGE,
    STICK_ANNOTATION,
    Estate,
    ProviderSimulator,
    SimStats,
    connection_info,
    is_fresh,
    make_client,
    resolve_kind,
    running_simulator,
)

__all__ = [
    "CONNECTIONS_NEEDED", "FAIL_ANNOTATION", "FIELD_MANAGER", "FINALIZER", "LABEL_SELECTOR", "LATE_INIT",
    "NOT_FOUND_MESSAGE", "STICK_ANNOTATION", "Estate", "ProviderSimulator", "SimStats", "Subject", "at_provider",
    "connection_info", "identity", "is_fresh", "make_client", "resolve_kind", "running_simulator",
]

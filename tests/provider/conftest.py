"""Fixtures of the real-provider tier: its own control plane (the provider's v2.5.0 CRDs, not the v2.6.0 ones the
rest of the suite validates against - one API server cannot hold both), moto, the provider and the operator.

Nothing here skips: a missing provider binary is built by build_provider.sh, and if that fails the fixture
fails with the build's own error (the tier is run on purpose, by `make test-provider`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devtools.controlplane import ControlPlaneError, LocalControlPlane, install_crds, install_project_crds
from tests.provider import provider
from tests.provider.emulator import Moto

pytestmark = pytest.mark.cluster

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def provider_exe() -> str:
    began = time.monotonic()
    try:
        exe = provider.binary()
    except provider.ProviderUnavailable as err:
        pytest.fail(f"the real provider is not available: {err}", pytrace=False)
    TIMINGS["provider binary (build or cache)"] = round(time.monotonic() - began, 1)
    return str(exe)


@pytest.fixture(scope="session")
def provider_plane(provider_exe: str) -> Iterator[LocalControlPlane]:
    """A control plane of its own, with the provider's CRDs for our kinds and the repository's CRDs."""
    began = time.monotonic()
    try:
        plane = LocalControlPlane.launch()
        install_crds(plane, provider.crd_files())
        install_project_crds(plane)
    except (ControlPlaneError, provider.ProviderUnavailable) as err:
        pytest.fail(f"cannot start the provider tier's control plane: {err}", pytrace=False)
    TIMINGS["control plane + provider CRDs"] = round(time.monotonic() - began, 1)
    with plane:
        yield plane


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    server = Moto().start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("real-provider tier timings (s)")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds}")

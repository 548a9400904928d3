"""Shared pytest fixtures: one real control plane per session (devtools/controlplane), CRDs, fresh namespaces.

Cluster tests never skip themselves: if the binaries are missing the ``control_plane`` fixture errors with
instructions, so CI (CI=true) fails loudly. Deselect them explicitly with ``-m "not cluster"`` if you must.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devtools.controlplane import (
    ControlPlane,
    ControlPlaneError,
    LocalControlPlane,
    install_crossplane_crds,
    install_project_crds,
)
from devtools.controlplane import crds as crd_helpers
from devtools.controlplane.namespaces import ephemeral_namespace


def pytest_configure(config: pytest.Config) -> None:
    # Registered here rather than in pyproject.toml: it only matters to the kind workflow, which deselects it.
    config.addinivalue_line(
        "markers",
        "restarts_apiserver: calls control_plane.restart_apiserver(), which external clusters cannot do; "
        "deselected (never skipped) by .github/workflows/e2e-kind.yml",
    )


# Wall-clock seconds of the expensive session set-up steps, printed in the terminal summary.
_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """Real etcd + kube-apiserver + kube-controller-manager for the session (or $REGIONAL_OPERATOR_KUBECONFIG)."""
    began = time.monotonic()
    try:
        plane = ControlPlane.start()
    except ControlPlaneError as err:
        problem = str(err)
    else:
        problem = ""
    if problem:  # outside the except block, so the report is the message alone, not a chained traceback
        pytest.fail(f"cannot start the test control plane: {problem}", pytrace=False)
    _TIMINGS["control plane start"] = round(time.monotonic() - began, 2)
    if isinstance(plane, LocalControlPlane):
        _TIMINGS.update({f"  {phase}": seconds for phase, seconds in plane.timings.items()})
    with plane:
        yield plane


@pytest.fixture(scope="session")
def crossplane_crds(control_plane: ControlPlane) -> list[str]:
    """All Crossplane provider-aws v2.6.0 + core CRDs, installed and Established once per session; their names."""
    began = time.monotonic()
    names = install_crossplane_crds(control_plane)
    _TIMINGS[f"crossplane CRD install ({len(names)} CRDs)"] = round(time.monotonic() - began, 2)
    _TIMINGS.update({f"  {k}": v for k, v in crd_helpers.last_install_timings.items() if k in ("apply", "wait")})
    return names


@pytest.fixture(scope="session")
def project_crds(control_plane: ControlPlane) -> list[str]:
    """The repository's own CRDs (crds/*.yaml), installed once per session; their names (may be empty)."""
    return install_project_crds(control_plane)


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (asynchronously: the namespace controller empties it)."""
    with ephemeral_namespace(control_plane) as name:
        yield name


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TIMINGS:
        terminalreporter.section("control plane timings (s)")
        for what, seconds in _TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds}")

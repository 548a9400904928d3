"""Fixtures for end-to-end tests: CRDs installed once, then per test a namespace with the operator and the
provider simulator running as subprocesses against the real API server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import processes
from devtools.controlplane import ControlPlane, wait_for
from devtools.controlplane.namespaces import release_stuck_namespaces
from devtools.stand_in import MR_KINDS

REPO = Path(__file__).resolve().parents[2]


class Env:
    """One namespace with the operator and simulator running; helpers speak kubectl to the real API server."""

    def __init__(self, cp: ControlPlane, namespace: str) -> None:
        self.cp = cp
        self.ns = namespace
        self.operator: processes.Process | None = None
        self.simulator: processes.Process | None = None

    # --- processes ---
    def start_operator(self, **env: str) -> None:
        self.operator = processes.operator(self.cp.kubeconfig_path, self.ns, env).start()
        processes.wait_live(self.operator.liveness_url)  # type: ignore[attr-defined]

    def start_simulator(self, ready_delay: float = 0.1, *, estate: Path | None = None,
                        cloud_out: Path | None = None) -> None:
        self.simulator = processes.simulator(self.cp.kubeconfig_path, self.ns, ready_delay, estate=estate,
                                             cloud_out=cloud_out).start()

    def logs(self) -> str:
        parts = []
        for proc in (self.operator, self.simulator):
            if proc is not None:
                parts.append(f"--- {proc.name} ---\n{proc.logs()}")
        return "\n".join(parts)

    # --- API helpers ---
    def apply(self, cr: dict[str, Any]) -> None:
        cr = {**cr, "metadata": {**cr["metadata"], "namespace": self.ns}}
        self.cp.kubectl("apply", "--server-side", "--field-manager=e2e-test", "-f", "-", input=json.dumps(cr))

    def get(self, name: str) -> dict[str, Any] | None:
        proc = self.cp.kubectl("get", "regionaldeployments.platform.regional.io", name, "-n", self.ns, "-o", "json",
                               check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def mrs(self, name: str | None = None, *, managed_fields: bool = False) -> list[dict[str, Any]]:
        """Our MRs (kubectl leaves metadata.managedFields out unless asked for)."""
        selector = "app.kubernetes.io/managed-by=regional-operator"
        if name:
            selector += f",platform.regional.io/deployment={name}"
        extra = ["--show-managed-fields"] if managed_fields else []
        return list(self.cp.kubectl_json("get", MR_KINDS, "-n", self.ns, "-l", selector, *extra)["items"])

    def condition(self, name: str, kind: str) -> dict[str, Any] | None:
        obj = self.get(name) or {}
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond["type"] == kind:
                return dict(cond)
        return None

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 90, interval: float = 0.3) -> Any:
        return wait_for(check, timeout=timeout, interval=interval, what=what, context=self.logs)

    def wait_condition(self, name: str, kind: str, status: str, timeout: float = 120) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            cond = self.condition(name, kind)
            return cond if cond and cond["status"] == status else None

        try:
            return dict(self.wait_for(f"{name} {kind}={status}", check, timeout))
        except AssertionError as err:
            status_now = (self.get(name) or {}).get("status")
            raise AssertionError(f"{err}\nstatus: {yaml.safe_dump(status_now)}") from None

    def stop(self) -> None:
        """Leave nothing behind that keeps writing: a namespace deleted after the simulator stopped would hold
        its MRs' finalizers forever, and the namespace controller's retries would pollute later tests' request
        counts. So: stop the operator, release the CRs' finalizers, delete the namespace while the simulator
        still answers for the MRs, then stop the simulator and release what it left."""
        if self.operator is not None:
            self.operator.cleanup()
        names = self.cp.kubectl("get", "regionaldeployments.platform.regional.io", "-n", self.ns, "-o", "name",
                                check=False).stdout.split()
        for name in names:
            self.cp.kubectl("patch", name, "-n", self.ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                            check=False)
        if self.simulator is not None:
            self.cp.kubectl("delete", "namespace", self.ns, "--wait=true", "--timeout=90s", check=False, timeout=120)
            self.simulator.cleanup()
        release_stuck_namespaces(self.cp)  # what the simulator did not finish before it stopped


@pytest.fixture(scope="session")
def installed_crds(control_plane: ControlPlane, crossplane_crds: list[str], project_crds: list[str]) -> None:
    assert "regionaldeployments.platform.regional.io" in project_crds


@pytest.fixture
def env(control_plane: ControlPlane, installed_crds: None, namespace: str) -> Iterator[Env]:
    e = Env(control_plane, namespace)
    try:
        yield e
    finally:
        e.stop()


def load_example(name: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((REPO / "examples" / name).read_text()) if d]
    return next(d for d in docs if d.get("kind") == "RegionalDeployment")

"""The two-region example reconciled by the real operator and the real provider against moto: the processes,
what the API server and moto hold, and when it has converged."""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regional_operator.render.kinds import BY_API_KIND

from devtools import processes
from devtools.controlplane import LocalControlPlane, wait_for
from tests.e2e.conftest import MR_KINDS, load_example
from tests.provider import provider
from tests.provider.emulator import ACCOUNT_ID, Moto

EXTERNAL_NAME = "crossplane.io/external-name"
CREATE_SUCCEEDED = "crossplane.io/external-create-succeeded"  # set by crossplane-runtime after a Create
DEPLOYMENT_TAG = "RegionalDeployment"


def example(namespace: str) -> dict[str, Any]:
    """examples/two-region.yaml in the provider's account (ARNs the renderer builds must name moto's account)."""
    cr = copy.deepcopy(load_example("two-region.yaml"))
    cr["metadata"]["namespace"] = namespace
    cr["spec"]["awsAccountId"] = ACCOUNT_ID
    return cr


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def outcome(mr: dict[str, Any]) -> str:
    """``Ready``, ``Synced only`` (the provider reconciled it, the API says not ready), ``refused`` (Synced=False:
    the provider or moto rejected it) or ``unreconciled`` (no Synced condition yet)."""
    conds = conditions(mr)
    synced, ready = conds.get("Synced", {}).get("status"), conds.get("Ready", {}).get("status")
    if synced == "True":
        return "Ready" if ready == "True" else "Synced only"
    if synced == "False":
        return "refused"
    return "unreconciled"


def message(mr: dict[str, Any]) -> str:
    """Why an MR is not Ready, in the provider's (or moto's) words."""
    conds = conditions(mr)
    for kind in ("Synced", "Ready"):
        cond = conds.get(kind, {})
        if cond.get("status") != "True":
            return str(cond.get("message") or cond.get("reason") or "no condition")
    return ""


_VOLATILE = (  # in this order: a test namespace would otherwise read as an AWS id
    (re.compile(r"\btest-[0-9a-f]{8}\b"), "<namespace>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b([a-z]+)-[0-9a-f]{8,17}\b"), r"\1-<id>"),
    (re.compile(r"\b[0-9A-Z]{52}\b"), "<request-id>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?\b"), "<time>"),
    (re.compile(r"\s+"), " "),
)


def normalized(text: str, limit: int = 400) -> str:
    """A message with this run's ids, request ids, times and namespace replaced, so runs compare."""
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Estate:
    """One namespace: moto, the provider and the operator as processes, the example CR applied."""

    cp: LocalControlPlane
    moto: Moto
    exe: Path
    ns: str
    operator_metrics_port: int = field(default_factory=processes.free_port)
    operator: processes.Process | None = None
    provider: processes.Process | None = None
    events: list[str] = field(default_factory=list)
    converged: list[dict[str, Any]] = field(default_factory=list)  # the MRs when wait_converged returned

    @property
    def name(self) -> str:
        return "payments"

    @property
    def tag_value(self) -> str:
        return f"{self.ns}/{self.name}"

    # --- processes -------------------------------------------------------------------------------------------
    def configure_provider(self) -> None:
        self.cp.kubectl("apply", "--server-side", "--field-manager=provider-tier", "-f", "-",
                        input=provider.manifests(self.moto.url))

    def start_provider(self) -> None:
        self.provider = provider.process(self.exe, self.cp.kubeconfig_path).start()
        proc = self.provider

        def exited() -> str | None:
            code = proc.proc.poll() if proc.proc is not None else None
            return None if code is None else f"provider exited {code}"

        try:
            processes.wait_live(proc.health_url, 60, exited=exited)  # type: ignore[attr-defined]
        except (RuntimeError, TimeoutError) as err:
            raise AssertionError(f"{err}\n{proc.logs()}") from None

    def stop_provider(self) -> None:
        """SIGTERM, as a rolling restart of the provider's pod sends it (grace period, then SIGKILL)."""
        if self.provider is not None:
            self.provider.cleanup()
            self.provider = None

    def start_operator(self) -> None:
        env = {"REGIONAL_OPERATOR_RESYNC_SECONDS": "2",
               "REGIONAL_OPERATOR_METRICS_PORT": str(self.operator_metrics_port)}
        self.operator = processes.operator(self.cp.kubeconfig_path, self.ns, env).start()
        processes.wait_live(self.operator.liveness_url)  # type: ignore[attr-defined]

    def stop(self) -> None:
        for proc in (self.operator, self.provider):
            if proc is not None:
                proc.cleanup()
        self.operator = self.provider = None

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.logs(80)}" for p in (self.operator, self.provider) if p is not None)

    # --- API server ------------------------------------------------------------------------------------------
    def apply(self, cr: dict[str, Any]) -> None:
        self.cp.kubectl("apply", "--server-side", "--field-manager=e2e-test", "-f", "-", input=json.dumps(cr))

    def cr(self) -> dict[str, Any] | None:
        proc = self.cp.kubectl("get", "regionaldeployments.platform.regional.io", self.name, "-n", self.ns, "-o",
                               "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def mrs(self) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/managed-by=regional-operator,platform.regional.io/deployment={self.name}"
        return list(self.cp.kubectl_json("get", MR_KINDS, "-n", self.ns, "-l", selector)["items"])

    def operator_counter(self, metric: str) -> float:
        url = f"http://127.0.0.1:{self.operator_metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        return sum(float(v) for v in re.findall(rf"^{metric}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))

    # --- waiting ---------------------------------------------------------------------------------------------
    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        return wait_for(check, timeout=timeout, interval=interval, what=what, context=self.logs)

    def snapshot(self) -> dict[tuple[str, str], tuple[str, str, bool]]:
        """(kind, name) -> (outcome, external name, created in AWS) of every MR."""
        snap = {}
        for m in self.mrs():
            ann = m["metadata"].get("annotations", {})
            snap[(m["kind"], m["metadata"]["name"])] = (outcome(m), ann.get(EXTERNAL_NAME, ""),
                                                        CREATE_SUCCEEDED in ann)
        return snap

    def wait_converged(self, timeout: float, quiet: float = 20.0) -> list[dict[str, Any]]:
        """Until no MR is unreconciled, nothing is pending in the CR's status, and no MR's outcome or external
        name has changed for ``quiet`` seconds. Returns the MRs."""
        began = time.monotonic()
        deadline = began + timeout
        stable_since, last = time.monotonic(), None
        while time.monotonic() < deadline:
            snap = {k: v[:2] for k, v in self.snapshot().items()}
            cr = self.cr() or {}
            pending = (cr.get("status") or {}).get("pending") or []
            settled = snap and not pending and all(v[0] != "unreconciled" for v in snap.values())
            if snap != last or not settled:
                stable_since, last = time.monotonic(), snap
            elif time.monotonic() - stable_since >= quiet:
                self.events.append(f"converged after {time.monotonic() - began:.0f}s")
                self.converged = self.mrs()
                return self.converged
            time.sleep(2)
        counts = Counter(v[0] for v in (last or {}).values())
        raise AssertionError(f"not converged after {timeout:.0f}s: {dict(counts)}; pending="
                             f"{((self.cr() or {}).get('status') or {}).get('pending')}\n{self.logs()}")


def by_kind(mrs: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """``service/Kind`` -> Counter of outcomes."""
    table: dict[str, Counter[str]] = {}
    for mr in mrs:
        key = BY_API_KIND[(mr["apiVersion"], mr["kind"])].key
        table.setdefault(key, Counter())[outcome(mr)] += 1
    return table

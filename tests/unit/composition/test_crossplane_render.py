"""The composition proved with the real `crossplane render` (crank v2.2.x, built from Go modules by
devtools/controlplane/build.sh), running the function locally in insecure mode through the Development runtime.

For the two- and three-region examples the composed resources crank prints are the renderer's MRs (after
normalising what Crossplane adds); with --observed-resources dependents appear exactly as the operator renders
them; specs the operator refuses are a fatal result naming the same field.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_function.compose import resource_name
from regional_operator.errors import SpecValidationError
from regional_operator.render import render
from regional_operator.render.observed import Observed

from devtools.controlplane import find_bin_dir
from devtools.controlplane.harness import free_port
from tests.unit.composition import support

RUNTIME = "render.crossplane.io/runtime"
TARGET = "render.crossplane.io/runtime-development-target"


@pytest.fixture(scope="module")
def crossplane() -> Path:
    path = find_bin_dir() / "crossplane"
    assert os.access(path, os.X_OK), f"{path} missing: run bash devtools/controlplane/build.sh"
    proc = subprocess.run([str(path), "version", "--client"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert "v2.2." in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return path


@pytest.fixture(scope="module")
def function_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The function, started locally on a free loopback port in insecure mode (what the Development runtime
    connects to); stopped afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("function") / "function.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "regional_function.main", "--insecure",
                                 "--address", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT,
                                cwd=support.REPO)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the function exited: {log.read_text()[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"the function did not listen: {log.read_text()[-2000:]}"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _functions_file(tmp: Path, target: str) -> Path:
    """apis/functions.yaml's Function object, told to use the running function (Development runtime)."""
    docs = yaml.safe_load_all((support.APIS / "functions.yaml").read_text())
    function = next(d for d in docs if d["kind"] == "Function")
    function["metadata"]["annotations"] = {RUNTIME: "Development", TARGET: target}
    path = tmp / "functions.yaml"
    path.write_text(yaml.safe_dump(function))
    return path


def crank_render(crossplane: Path, target: str, tmp: Path, xr: Mapping[str, Any],
                 observed: Sequence[Mapping[str, Any]] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp / "xr.yaml").write_text(yaml.safe_dump(dict(xr)))
    argv = [str(crossplane), "render", str(tmp / "xr.yaml"), str(support.APIS / "composition.yaml"),
            str(_functions_file(tmp, target)), f"--xrd={support.APIS / 'definition.yaml'}",
            "--include-function-results", "--timeout=120s"]
    if observed is not None:
        (tmp / "observed.yaml").write_text(yaml.safe_dump_all([dict(o) for o in observed]))
        argv.append(f"--observed-resources={tmp / 'observed.yaml'}")
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def rendered(proc: subprocess.CompletedProcess[str]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                list[dict[str, Any]]]:
    """(the XR, the composed resources, the Result objects) crank printed."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    xr, rest = docs[0], docs[1:]
    assert xr["kind"] == support.XR_KIND
    results = [d for d in rest if d["kind"] == "Result" and d["apiVersion"].startswith("render.crossplane.io/")]
    composed = [d for d in rest if d not in results]
    return xr, composed, results


def as_observed(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A composed resource as the cluster would hold it: its composition resource name annotation on it."""
    out = copy.deepcopy(dict(obj))
    out["metadata"].setdefault("annotations", {})["crossplane.io/composition-resource-name"] = resource_name(obj)
    return out


def _mrs(composed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [support.normalised(d) for d in composed if d["kind"] != "Usage"]


@pytest.mark.parametrize("name", ["two-region", "three-region"])
def test_crank_prints_the_renderers_mrs(name: str, crossplane: Path, function_target: str, tmp_path: Path) -> None:
    cr = support.example(name)
    xr_out, composed, results = rendered(crank_render(crossplane, function_target, tmp_path, support.as_xr(cr)))
    expected = render(cr, support.defaults(), None, support.artifact())
    assert support.by_key(_mrs(composed)) == support.by_key(list(expected.resources))
    for obj in composed:  # what Crossplane adds, and nothing else was support.normalised away
        assert obj["metadata"]["ownerReferences"][0]["kind"] == support.XR_KIND
        assert obj["metadata"]["labels"]["crossplane.io/composite"] == cr["metadata"]["name"]
        assert obj["metadata"]["annotations"]["crossplane.io/composition-resource-name"] == resource_name(obj)
    warnings = [r["message"] for r in results if r["severity"] == "SEVERITY_WARNING"]
    assert warnings == [f"pending: {p}" for p in expected.pending] and warnings
    assert xr_out["status"]["pending"] == [str(p) for p in expected.pending]
    ready = {c["type"]: c for c in xr_out["status"]["conditions"]}
    assert ready["Ready"]["status"] == "False", "nothing exists yet"
    assert {"PeeringReady", "ReplicationReady", "AlarmsConfigured"} <= set(ready)
    assert any(d["kind"] == "Usage" for d in composed)


def test_observed_resources_bring_dependents_exactly_as_the_operator(crossplane: Path, function_target: str,
                                                                     tmp_path: Path) -> None:
    cr = support.example("two-region")
    everything = support.observed_all(cr)
    # The peering connection has no id yet: its accepter and the routes over it wait, as in the operator.
    observed = [as_observed(o) for o in everything if o["kind"] != "VPCPeeringConnection"]
    proc = crank_render(crossplane, function_target, tmp_path, support.as_xr(cr), observed)
    xr_out, composed, results = rendered(proc)
    expected = render(cr, support.defaults(), Observed.from_objects(observed), support.artifact())
    assert support.by_key(_mrs(composed)) == support.by_key(list(expected.resources))
    kinds = {d["kind"] for d in _mrs(composed)}
    assert "VPCPeeringConnectionAccepter" not in kinds and "WebACLAssociation" in kinds
    assert xr_out["status"]["pending"] == [str(p) for p in expected.pending]
    assert [r["message"] for r in results if r["severity"] == "SEVERITY_WARNING"] == [
        f"pending: {p}" for p in expected.pending]
    conds = {c["type"]: c for c in xr_out["status"]["conditions"]}
    assert conds["PeeringReady"]["status"] == "False" and "VPCPeeringConnection" in conds["PeeringReady"]["message"]
    assert conds["Ready"]["status"] == "False"


def test_fully_observed_and_ready_makes_the_xr_ready(crossplane: Path, function_target: str,
                                                     tmp_path: Path) -> None:
    cr = support.example("two-region")
    observed = [as_observed(o) for o in support.observed_all(cr)]
    _, first, _ = rendered(crank_render(crossplane, function_target, tmp_path, support.as_xr(cr), observed))
    usages = [as_observed(support.normalised(u)) for u in first if u["kind"] == "Usage"]
    for usage in usages:  # Crossplane's usage controller marks a Usage Available once it is in force
        usage["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                                           "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    xr_out, _, results = rendered(crank_render(crossplane, function_target, tmp_path, support.as_xr(cr),
                                                      observed + usages))
    conds = {c["type"]: c for c in xr_out["status"]["conditions"]}
    assert conds["Ready"]["status"] == "True", conds["Ready"]
    assert all(conds[t]["status"] == "True" for t in ("PeeringReady", "ReplicationReady", "AlarmsConfigured"))
    total = len(render(cr, support.defaults(), Observed.from_objects(support.observed_all(cr)),
                       support.artifact()).resources)
    assert total > 200 and xr_out["status"]["resources"] == {"ready": total, "total": total}
    assert xr_out["status"]["outputs"]["us-east-2"]["peeringConnectionId"]
    assert not [r for r in results if r["severity"] == "SEVERITY_WARNING"]
    # one MR a generation ahead of its conditions: not ready, and the XR says which
    stale = copy.deepcopy(observed)
    stale[0]["metadata"]["generation"] = 2
    xr_out, _, _ = rendered(crank_render(crossplane, function_target, tmp_path, support.as_xr(cr), stale + usages))
    ready = next(c for c in xr_out["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"


def _refused() -> list[tuple[str, dict[str, Any], SpecValidationError]]:
    cases = []
    for path in sorted((support.REPO / "tests" / "data" / "invalid").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or doc.get("kind") != "RegionalDeployment" or not isinstance(
                doc.get("spec"), dict):
            continue
        try:
            render(doc, support.defaults(), None, support.artifact())
        except SpecValidationError as err:
            cases.append((path.name, doc, err))
    return cases


def test_refused_specs_are_a_fatal_result_naming_the_field(crossplane: Path, function_target: str,
                                                           tmp_path: Path) -> None:
    cases = _refused()
    assert len(cases) >= 3
    for name, doc, err in cases[:6]:
        proc = crank_render(crossplane, function_target, tmp_path, support.as_xr(doc))
        assert proc.returncode != 0, name
        assert "returned a fatal result" in proc.stderr, (name, proc.stderr[-2000:])
        assert f"invalid RegionalDeployment: {err.field}: {err.rule}" in proc.stderr, (name, proc.stderr[-2000:])

"""The composition's objects admitted by the real test API server: the XRD, the Composition, the Function package
object and its DeploymentRuntimeConfig, and every Usage the function composes for the examples.

Crossplane's core CRDs come from ../shared/crossplane/core/ (installed with the provider's by `crossplane_crds`)
and core-extra/ (Function, DeploymentRuntimeConfig, Usage), installed here. Server-side dry-run with strict field
validation: an unknown field or a wrong enum is refused, as the last test shows.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_function.compose import compose

from devtools.controlplane import ControlPlane, install_crds
from devtools.controlplane.crds import shared_dir
from tests.unit.composition.support import APIS, artifact, as_xr, defaults, example, observed_all

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def core_extra(control_plane: ControlPlane, crossplane_crds: list[str]) -> list[str]:
    names = install_crds(control_plane, [shared_dir() / "crossplane" / "core-extra"])
    assert "usages.protection.crossplane.io" in names and "functions.pkg.crossplane.io" in names
    return names


def _dry_run(cp: ControlPlane, docs: list[dict[str, Any]], namespace: str | None = None) -> tuple[int, str]:
    argv = ["apply", "--server-side", "--dry-run=server", "--validate=strict",
            "--field-manager=composition-test", "-f", "-"]
    if namespace:
        argv += ["-n", namespace]
    proc = cp.kubectl(*argv, input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}), check=False)
    return proc.returncode, proc.stderr


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_xrd_composition_and_function_are_admitted(control_plane: ControlPlane, core_extra: list[str]) -> None:
    docs = [*_docs(APIS / "definition.yaml"), *_docs(APIS / "composition.yaml"), *_docs(APIS / "functions.yaml")]
    assert {(d["apiVersion"], d["kind"]) for d in docs} == {
        ("apiextensions.crossplane.io/v2", "CompositeResourceDefinition"),
        ("apiextensions.crossplane.io/v1", "Composition"), ("pkg.crossplane.io/v1", "Function"),
        ("pkg.crossplane.io/v1beta1", "DeploymentRuntimeConfig")}
    code, err = _dry_run(control_plane, docs)
    assert code == 0, err
    assert "Warning" not in err, err


@pytest.mark.parametrize("name", ["two-region", "three-region"])
def test_usages_are_admitted(control_plane: ControlPlane, core_extra: list[str], namespace: str,
                             name: str) -> None:
    cr = example(name)
    xr = as_xr(cr)
    xr["metadata"]["namespace"] = namespace
    out = compose(xr, [], defaults(), artifact())
    usages = [d.resource for d in out.resources if d.resource["kind"] == "Usage"]
    complete = compose(xr, [{**o, "metadata": {**o["metadata"], "namespace": namespace}}
                            for o in observed_all({**cr, "metadata": {**cr["metadata"], "namespace": namespace}})],
                       defaults(), artifact())
    usages += [d.resource for d in complete.resources if d.resource["kind"] == "Usage"]
    assert len(usages) > 200
    code, err = _dry_run(control_plane, usages, namespace)
    assert code == 0, err
    assert "Warning" not in err, err


def test_strict_validation_refuses_a_broken_usage_and_xrd(control_plane: ControlPlane, core_extra: list[str],
                                                          namespace: str) -> None:
    xr = as_xr(example("two-region"))
    xr["metadata"]["namespace"] = namespace
    usage = next(d.resource for d in compose(xr, [], defaults(), artifact()).resources
                 if d.resource["kind"] == "Usage")
    typo = copy.deepcopy(usage)
    typo["spec"]["replayDeletions"] = True
    neither = copy.deepcopy(usage)
    del neither["spec"]["by"], neither["spec"]["reason"]  # CEL: either spec.by or spec.reason
    xrd = _docs(APIS / "definition.yaml")[0]
    bad_scope = copy.deepcopy(xrd)
    bad_scope["spec"]["scope"] = "Region"
    for broken, ns in ((typo, namespace), (neither, namespace), (bad_scope, None)):
        code, _ = _dry_run(control_plane, [broken], ns)
        assert code != 0, broken["metadata"]["name"]

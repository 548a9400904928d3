"""`regional-operator plan` against a real API server (provider CRDs installed, no provider or operator running):
every rendered MR dry-run applied with the operator's field manager, grouped by region and component, created /
changed (field by field) / unchanged / to be deleted, the adopted resources' atProvider-vs-Manage difference, and
the exit code (0 nothing would change, 1 changes, 2 error). Nothing is written by plan: the MRs stay as they were.
MR names come from render.names or from the rendered output, never written out here."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_operator import cli
from regional_operator.defaults import load_defaults
from regional_operator.documents import optional_artifact
from regional_operator.kube import FIELD_MANAGER
from regional_operator.reconcile.apply import with_ownership
from regional_operator.render import names, render
from regional_operator.render.context import RenderContext
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_spec

from devtools.controlplane import ControlPlane
from tests.cluster.test_crd_admission import TWO_REGION
from tests.unit.render.test_adoption import VPC, adopt_all
from tests.unit.test_crd_schema import example

pytestmark = pytest.mark.cluster


def _cr(namespace: str, mode: str = "Observe") -> dict[str, Any]:
    cr = example(TWO_REGION)
    cr["metadata"]["namespace"] = namespace
    cr["spec"]["regions"][0]["adopt"] = adopt_all(mode)
    return cr


def _write(tmp_path: Path, cr: dict[str, Any]) -> str:
    path = tmp_path / "rd.yaml"
    path.write_text(yaml.safe_dump(cr), encoding="utf-8")
    return str(path)


def _plan(cp: ControlPlane, path: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["plan", path, f"--kubeconfig={cp.kubeconfig_path}", f"--kubectl={cp.kubectl_path}"])
    return code, capsys.readouterr().out


def _apply_as_operator(cp: ControlPlane, cr: dict[str, Any]) -> list[dict[str, Any]]:
    """What the operator's first pass writes: every rendered MR, owned by the stored CR, with its field manager."""
    stored = cp.kubectl_json("get", "rd", cr["metadata"]["name"], "-n", cr["metadata"]["namespace"])
    result = render(cr, load_defaults(), Observed(), optional_artifact(False))
    desired = [with_ownership(o, stored) for o in result.resources]
    cp.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-",
               input=json.dumps({"apiVersion": "v1", "kind": "List", "items": desired}))
    return desired


def test_plan_shows_creates_then_nothing_then_drift_then_promotion(
        control_plane: ControlPlane, crossplane_crds: list[str], project_crds: list[str], namespace: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cp = control_plane
    cr = _cr(namespace)
    path = _write(tmp_path, cr)
    ctx = RenderContext(parse_spec(cr["spec"]), load_defaults(), namespace=namespace, name=cr["metadata"]["name"],
                        observed=Observed())
    vpc = names.vpc(ctx, ctx.primary)

    # 1. nothing exists: everything would be created; plan wrote nothing
    code, out = _plan(cp, path, capsys)
    assert code == 1, out
    assert "us-east-1 / network:" in out and "us-east-2 / network:" in out
    assert f"+ VPC/{vpc}  [spec.regions[0].adopt.vpc.id {VPC['id']} (Observe)]" in out
    listed = cp.kubectl_json("get", "vpcs.ec2.aws.m.upbound.io", "-n", namespace)
    assert listed["items"] == []

    # 2. the CR stored and the operator's first pass applied: nothing would change
    cp.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-", input=json.dumps(cr))
    desired = _apply_as_operator(cp, cr)
    code, out = _plan(cp, path, capsys)
    assert code == 0, out
    assert f"plan: 0 to create, 0 to change, {len(desired)} unchanged, 0 to delete" in out

    # 3. the provider reports the real VPC: its settings differ from what Manage would set (exit 0: Observe
    #    changes nothing), and plan names them with both values
    at_provider = {"id": VPC["id"], "cidrBlock": "10.10.0.0/16", "enableDnsHostnames": False,
                   "enableDnsSupport": True, "tags": {"Name": "legacy-vpc"}}
    cp.kubectl("patch", "vpcs.ec2.aws.m.upbound.io", vpc, "-n", namespace, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": {"atProvider": at_provider}}))
    code, out = _plan(cp, path, capsys)
    assert code == 0, out
    assert "in Manage these settings would change (AWS has -> Manage sets):" in out
    assert "enableDnsHostnames: false -> true" in out

    # 4. promotion: the VPC's management policies would change, field by field
    promoted = _cr(namespace)
    promoted["spec"]["regions"][0]["adopt"]["vpc"]["mode"] = "Manage"
    code, out = _plan(cp, _write(tmp_path, promoted), capsys)
    assert code == 1, out
    assert f"~ VPC/{vpc}" in out
    assert 'spec.managementPolicies: ["Observe"] -> ["Observe", "Update", "LateInitialize"]' in out \
        or 'spec.managementPolicies: ["Observe"] -> ["Observe", "Create", "Update", "LateInitialize"]' in out

    # 5. an MR of this deployment the spec no longer renders would be deleted
    extra = copy.deepcopy(next(o for o in desired if o["kind"] == "SecurityGroup"))
    extra["metadata"]["name"] += "-old"
    cp.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", input=json.dumps(extra))
    code, out = _plan(cp, path, capsys)
    assert code == 1 and f"- SecurityGroup/{extra['metadata']['name']}" in out, out


def test_plan_exits_2_on_an_invalid_spec(control_plane: ControlPlane, project_crds: list[str], namespace: str,
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cr = _cr(namespace)
    cr["spec"]["regions"][0]["adopt"]["kmsKey"]["arn"] = "arn:aws:kms:us-east-2:123456789012:key/" \
                                                         "1234abcd-12ab-34cd-56ef-1234567890ab"
    code = cli.main(["plan", _write(tmp_path, cr), f"--kubeconfig={control_plane.kubeconfig_path}",
                     f"--kubectl={control_plane.kubectl_path}"])
    err = capsys.readouterr().err
    assert code == 2 and "spec.regions[0].adopt.kmsKey.arn" in err

"""The composition function, offline: same MRs as the operator's renderer, the operator's readiness and
conditions, Usages that hold the tier order, fatal results for refused specs, and its generated files in sync."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from regional_function import usages as usage_mod
from regional_function.compose import NOT_MIRRORED, compose, resource_name
from regional_function.fn import FunctionRunner
from regional_operator.defaults_store import DefaultsStore
from regional_operator.errors import SpecValidationError
from regional_operator.identity import key_of
from regional_operator.reconcile.status import assess, conditions_for
from regional_operator.reconcile.tiers import tier_of
from regional_operator.render import render
from regional_operator.render.kinds import BY_API_KIND
from regional_operator.render.observed import Observed

from hack import gen_compositions
from tests.unit.composition.support import (
    APIS,
    COMPOSITIONS,
    REPO,
    XR_API_VERSION,
    XR_KIND,
    artifact,
    as_xr,
    by_key,
    defaults,
    example,
    healthy,
    observed_all,
)

INVALID = REPO / "tests" / "data" / "invalid"


def _mrs(out: Any) -> list[dict[str, Any]]:
    return [d.resource for d in out.resources if d.resource["kind"] != "Usage"]


def _usages(out: Any) -> list[dict[str, Any]]:
    return [d.resource for d in out.resources if d.resource["kind"] == "Usage"]


# --------------------------------------------------------------------------------------------- generated files


def test_generated_files_are_in_sync() -> None:
    expected = gen_compositions.outputs()
    assert gen_compositions.REFERENCE_TARGETS in expected, "the provider reference table (../shared) is missing"
    stale = [str(p.relative_to(REPO)) for p, text in expected.items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run python -m hack.sync_chart_crds: {stale}"


def test_xrd_carries_the_crd_schema_unchanged() -> None:
    crd = yaml.safe_load((REPO / "crds" / "platform.regional.io_regionaldeployments.yaml").read_text())
    xrd = yaml.safe_load((APIS / "definition.yaml").read_text())
    assert (xrd["apiVersion"], xrd["kind"]) == ("apiextensions.crossplane.io/v2", "CompositeResourceDefinition")
    assert xrd["spec"]["scope"] == "Namespaced"
    assert (xrd["spec"]["group"], xrd["spec"]["names"]["kind"]) == ("platform.regional.io", XR_KIND)
    assert xrd["metadata"]["name"] == f"{xrd['spec']['names']['plural']}.{xrd['spec']['group']}"
    (crd_version,) = crd["spec"]["versions"]
    (version,) = xrd["spec"]["versions"]
    assert version["referenceable"] and version["served"] and version["name"] == crd_version["name"]
    crd_schema = crd_version["schema"]["openAPIV3Schema"]
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"] == crd_schema["properties"]["spec"], "one schema: the CRD's spec"
    status = schema["properties"]["status"]["properties"]
    assert set(status) == set(crd_schema["properties"]["status"]["properties"]) - {"conditions", "observedGeneration"}
    assert schema["properties"]["metadata"]["properties"]["name"]["maxLength"] == 40
    assert xrd["spec"]["defaultCompositionRef"]["name"] == yaml.safe_load(
        (APIS / "composition.yaml").read_text())["metadata"]["name"]


def test_xrd_follows_a_crd_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync check can fail: a changed CRD makes the committed XRD stale."""
    crd = yaml.safe_load(gen_compositions.CRD.read_text())
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["environment"][
        "description"] = "changed"
    changed = tmp_path / "crd.yaml"
    changed.write_text(yaml.safe_dump(crd))
    monkeypatch.setattr(gen_compositions, "CRD", changed)
    assert gen_compositions.xrd() != (APIS / "definition.yaml").read_text()


def test_composition_calls_the_function_in_pipeline_mode() -> None:
    comp = yaml.safe_load((APIS / "composition.yaml").read_text())
    assert comp["spec"]["mode"] == "Pipeline"
    assert comp["spec"]["compositeTypeRef"] == {"apiVersion": XR_API_VERSION, "kind": XR_KIND}
    functions = list(yaml.safe_load_all((APIS / "functions.yaml").read_text()))
    function = next(d for d in functions if d["kind"] == "Function")
    meta = yaml.safe_load((COMPOSITIONS / "function" / "package" / "crossplane.yaml").read_text())
    assert (meta["apiVersion"], meta["kind"]) == ("meta.pkg.crossplane.io/v1", "Function")
    assert [s["functionRef"]["name"] for s in comp["spec"]["pipeline"]] == [function["metadata"]["name"]]
    assert meta["metadata"]["name"] == function["metadata"]["name"]
    configuration = yaml.safe_load((APIS / "crossplane.yaml").read_text())
    assert function["spec"]["package"].rsplit(":", 1)[0] in {d["package"] for d in configuration["spec"]["dependsOn"]}


def test_runtime_is_non_root_with_a_read_only_root_filesystem() -> None:
    dockerfile = (COMPOSITIONS / "function" / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users[-1] == "10001:10001", "the image runs as a numeric non-root user"
    assert 'ENTRYPOINT ["function-regional-deployment"]' in dockerfile
    assert "CMD []" in dockerfile, "the operator image's CMD (--all-namespaces) must not reach the function"
    operator = (REPO / "Dockerfile").read_text()
    assert "USER 10001:10001" in operator and "PYTHONDONTWRITEBYTECODE=1" in operator, "what the base provides"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'function-regional-deployment = "regional_function.main:cli"' in pyproject
    config = next(d for d in yaml.safe_load_all((APIS / "functions.yaml").read_text())
                  if d["kind"] == "DeploymentRuntimeConfig")
    pod = config["spec"]["deploymentTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert container["name"] == "package-runtime"  # the container Crossplane's function runtime creates
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_function_lock_pins_the_sdk_and_matches_the_dev_set() -> None:
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for raw in path.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                name, _, version = line.partition("==")
                out[name] = version
        return out

    function, dev = pins(COMPOSITIONS / "function" / "requirements.lock"), pins(REPO / "requirements" / "dev.lock")
    assert function["crossplane-function-sdk-python"] == "0.15.1"
    assert {k: dev.get(k) for k in function} == function, "the function runs on the versions the tests use"


def test_function_imports_neither_kopf_nor_an_api_client() -> None:
    code = ("import sys, regional_function.main; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'kopf', 'aiohttp', 'kubernetes'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert proc.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------------ composing


@pytest.mark.parametrize("name", ["two-region", "three-region"])
def test_desired_mrs_are_the_renderers_unchanged(name: str) -> None:
    cr = example(name)
    for observed in ([], observed_all(cr)):
        out = compose(as_xr(cr), observed, defaults(), artifact())
        expected = render(cr, defaults(), Observed.from_objects(observed), artifact())
        assert _mrs(out) == list(expected.resources)
        assert [d.name for d in out.resources if d.resource["kind"] != "Usage"] == [
            resource_name(o) for o in expected.resources]
        assert len({d.name for d in out.resources}) == len(out.resources), "composition resource names are unique"
        assert out.warnings == tuple(f"pending: {p}" for p in expected.pending)
        assert out.status["pending"] == [str(p) for p in expected.pending]


def test_spec_crossplane_is_not_passed_to_the_renderer() -> None:
    cr = example("two-region")
    xr = as_xr(cr)
    xr["spec"]["crossplane"] = {"compositionRef": {"name": "regional-deployment"}}
    assert _mrs(compose(xr, [], defaults(), artifact())) == list(render(cr, defaults(), None, artifact()).resources)


def test_readiness_is_the_operators_rule() -> None:
    cr = example("two-region")
    observed = observed_all(cr)
    stale, unsynced = observed[0], observed[1]
    stale["metadata"]["generation"] = 2  # conditions speak for generation 1
    unsynced["status"]["conditions"][1]["status"] = "False"
    out = compose(as_xr(cr), observed, defaults(), artifact())
    ready = {(d.resource["kind"], d.resource["metadata"]["name"]): d.ready for d in out.resources
             if d.resource["kind"] != "Usage"}
    assert not ready[key_of(stale)] and not ready[key_of(unsynced)]
    assert sum(ready.values()) == len(ready) - 2
    assert not out.ready
    assert out.status["resources"] == {"ready": len(ready) - 2, "total": len(ready)}
    assert all(not d.ready for d in out.resources if d.resource["kind"] == "Usage"), "no Usage observed yet"


def test_conditions_mirror_the_operators() -> None:
    cr = example("three-region")
    observed = observed_all(cr)
    alarm = next(o for o in observed if o["kind"] == "MetricAlarm")
    alarm["status"]["conditions"][0].update(status="False", reason="Creating")
    out = compose(as_xr(cr), observed, defaults(), artifact())
    desired = _mrs(out)
    live = {key_of(o): o for o in observed}
    result = render(cr, defaults(), Observed.from_objects(observed), artifact())
    assert list(result.resources) == desired
    operator = conditions_for(result, assess(desired, live, {}))
    assert list(out.conditions) == [c for c in operator if c.type not in NOT_MIRRORED]
    types = {c.type: c for c in out.conditions}
    assert {"PeeringReady", "ReplicationReady", "AlarmsConfigured"} <= set(types)
    assert types["AlarmsConfigured"].status is False and alarm["metadata"]["name"] in types["AlarmsConfigured"].message
    assert types["PeeringReady"].status is True


# --------------------------------------------------------------------------------------------------- Usages


def _deletion_waves(mrs: list[dict[str, Any]], use: list[dict[str, Any]]) -> list[set[tuple[str, str]]]:
    """Crossplane deleting every composed resource at once: each round, what no remaining user holds goes."""
    left = {key_of(o) for o in mrs}
    holds = [((u["spec"]["by"]["kind"], u["spec"]["by"]["resourceRef"]["name"]),
              (u["spec"]["of"]["kind"], u["spec"]["of"]["resourceRef"]["name"])) for u in use]
    waves = []
    while left:
        held = {of for by, of in holds if by in left}
        wave = left - held
        assert wave, f"Usages deadlock deletion: {sorted(left)[:5]}"
        waves.append(wave)
        left -= wave
    return waves


@pytest.mark.parametrize("name", ["two-region", "three-region"])
def test_usages_hold_every_dependency_in_tier_order(name: str) -> None:
    cr = example(name)
    out = compose(as_xr(cr), observed_all(cr), defaults(), artifact())
    mrs, use = _mrs(out), _usages(out)
    index = {key_of(o): o for o in mrs}
    assert use, "a complete render has dependencies"
    for u in use:
        by = index[(u["spec"]["by"]["kind"], u["spec"]["by"]["resourceRef"]["name"])]
        of = index[(u["spec"]["of"]["kind"], u["spec"]["of"]["resourceRef"]["name"])]
        assert tier_of(of) > tier_of(by), u["metadata"]["name"]
        assert (u["spec"]["by"]["apiVersion"], u["spec"]["of"]["apiVersion"]) == (by["apiVersion"], of["apiVersion"])
        assert u["metadata"]["namespace"] == of["metadata"]["namespace"] and u["spec"]["replayDeletion"] is True
    pairs = {(u["spec"]["by"]["kind"], u["spec"]["of"]["kind"]) for u in use}
    # by reference, and by a value copied from status.atProvider (no Ref exists for these)
    assert {("Subnet", "VPC"), ("Alias", "Key"), ("RouteTableAssociation", "Subnet")} <= pairs
    assert {("WebACLAssociation", "LB"), ("VPCPeeringConnectionAccepter", "VPCPeeringConnection"),
            ("Route", "VPCPeeringConnection")} <= pairs
    # by an ARN the renderer builds from a name (alarm actions, event source, task role)
    assert {("MetricAlarm", "Topic"), ("EventSourceMapping", "Queue"), ("TaskDefinition", "Role")} <= pairs
    # Crossplane deletes everything at once: the Usages let nothing go while something that uses it exists.
    waves = _deletion_waves(mrs, use)
    assert len(waves) >= 4
    assert not {k for k, _ in waves[0]} & {"Key", "VPC", "Subnet", "Role", "Bucket", "Queue", "Topic"}
    position = {key: i for i, wave in enumerate(waves) for key in wave}
    for u in use:
        by = (u["spec"]["by"]["kind"], u["spec"]["by"]["resourceRef"]["name"])
        of = (u["spec"]["of"]["kind"], u["spec"]["of"]["resourceRef"]["name"])
        assert position[by] < position[of]


def test_every_reference_the_renderer_writes_is_in_the_provider_table() -> None:
    cr = example("three-region")
    for obj in render(cr, defaults(), Observed.from_objects(observed_all(cr)), artifact()).resources:
        for path, target, name in usage_mod.references(obj):
            assert target.partition("/")[0].endswith(".aws.m.upbound.io"), (obj["kind"], path)
            assert name


def test_an_unknown_reference_is_refused_not_ignored() -> None:
    mr = next(iter(render(example("two-region"), defaults(), None, artifact()).resources))
    mr = {**mr, "spec": {**mr["spec"], "forProvider": {**mr["spec"]["forProvider"], "madeUpRef": {"name": "x"}}}}
    with pytest.raises(KeyError, match="madeUpRef"):
        usage_mod.references(mr)


def test_a_secret_key_selector_is_not_an_mr_reference() -> None:
    """The replica's passwordSecretRef names a Secret (name + key): no Usage, and not refused as unknown."""
    cr = example("two-region")
    replicas = [o for o in render(cr, defaults(), Observed.from_objects(observed_all(cr)), artifact()).resources
                if o["kind"] == "Instance" and "passwordSecretRef" in o["spec"]["forProvider"]]
    assert replicas
    for obj in replicas:
        assert all("SecretRef" not in path for path, _, _ in usage_mod.references(obj))
    made_up = {**replicas[0], "spec": {**replicas[0]["spec"], "forProvider": {
        **replicas[0]["spec"]["forProvider"], "madeUpRef": {"name": "x"}}}}
    with pytest.raises(KeyError, match="madeUpRef"):
        usage_mod.references(made_up)


def test_usage_names_are_valid_object_names() -> None:
    long = usage_mod.Dependency(("RolePolicy", "r" * 200), ("Role", "s" * 200))
    name = usage_mod.usage_name(long)
    assert len(name) <= 253 and name != usage_mod.usage_name(usage_mod.Dependency(("RolePolicy", "r" * 200),
                                                                                   ("Role", "t" * 200)))


# ------------------------------------------------------------------------------------------------ refusals


def _refused_by_renderer() -> list[tuple[str, dict[str, Any], SpecValidationError]]:
    cases = []
    for path in sorted(INVALID.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "RegionalDeployment":
                continue
            try:
                render(doc, defaults(), None, artifact())
            except SpecValidationError as err:
                cases.append((path.name, doc, err))
    return cases


def test_specs_the_operator_refuses_give_the_same_field() -> None:
    cases = _refused_by_renderer()
    assert len(cases) >= 5, "the bad-input corpus has specs only the renderer can refuse"
    for name, doc, err in cases:
        with pytest.raises(SpecValidationError) as caught:
            compose(as_xr(doc), [], defaults(), artifact())
        assert (caught.value.field, caught.value.rule) == (err.field, err.rule), name


# ------------------------------------------------------------------------------------------------ over gRPC


def _request(xr: Mapping[str, Any], observed: list[dict[str, Any]]) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    resource.update(req.observed.composite, dict(xr))
    for obj in observed:
        resource.update(req.observed.resources[resource_name(obj)], obj)
    return req


def _run(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    runner = FunctionRunner(DefaultsStore(), artifact())
    return asyncio.run(runner.RunFunction(req, None))  # type: ignore[arg-type]


def test_run_function_returns_desired_state_conditions_and_results() -> None:
    cr = example("two-region")
    observed = observed_all(cr)
    peering = next(o for o in observed if o["kind"] == "VPCPeeringConnection")
    observed = [o for o in observed if o is not peering]  # its accepter and routes wait for the id again
    rsp = _run(_request(as_xr(cr), observed))
    expected = render(cr, defaults(), Observed.from_objects(observed), artifact())
    desired = {name: resource.struct_to_dict(r.resource) for name, r in rsp.desired.resources.items()}
    mrs = [d for d in desired.values() if d["kind"] != "Usage"]
    assert by_key(mrs) == by_key(list(expected.resources))
    assert rsp.desired.resources[resource_name(peering)].ready == fnv1.READY_FALSE
    assert sum(r.ready == fnv1.READY_TRUE for n, r in rsp.desired.resources.items()
               if desired[n]["kind"] != "Usage") == len(mrs) - 1
    assert rsp.desired.composite.ready == fnv1.READY_FALSE
    warnings = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]
    assert warnings == [f"pending: {p}" for p in expected.pending] and warnings
    assert any("VPCPeeringConnectionAccepter/" in w for w in warnings)
    conds = {c.type: c for c in rsp.conditions}
    assert conds["PeeringReady"].status == fnv1.STATUS_CONDITION_FALSE
    assert "Ready" not in conds and "Synced" not in conds
    status = resource.struct_to_dict(rsp.desired.composite.resource)["status"]
    assert status["pending"] == [str(p) for p in expected.pending]
    assert status["outputs"]["us-east-1"]["vpcId"]


def test_run_function_refusal_is_fatal_and_names_the_field() -> None:
    name, doc, err = _refused_by_renderer()[0]
    rsp = _run(_request(as_xr(doc), []))
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL], name
    assert rsp.results[0].message == f"invalid RegionalDeployment: {err.field}: {err.rule}"
    assert not rsp.desired.resources, "nothing is changed on a refused spec"


def test_every_kind_composed_is_a_known_kind() -> None:
    out = compose(as_xr(example("two-region")), [], defaults(), artifact())
    for d in _mrs(out):
        assert (d["apiVersion"], d["kind"]) in BY_API_KIND
    assert {(u["apiVersion"], u["kind"]) for u in _usages(out)} == {("protection.crossplane.io/v1beta1", "Usage")}
    assert healthy  # shared helper imported for the fixtures above

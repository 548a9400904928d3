"""compositions/: the Crossplane set-up regional-operator needs, checked against KINDS and the real API server.

Files whose CRD the test API server has (the ClusterProviderConfigs and the ManagedResourceActivationPolicy:
`crossplane_crds` installs provider-aws v2.6.0 and Crossplane's apiextensions CRDs) are applied with server-side
dry-run and strict field validation. The package metadata (`crossplane.yaml`) and the pkg.crossplane.io objects
(`providers.yaml`, `deployment-runtime-config.yaml`) have no CRD there, so they are checked offline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_operator.render.kinds import KINDS

from devtools.controlplane import ControlPlane, crossplane_crd_dirs
from hack import sync_chart_crds

REPO = Path(__file__).resolve().parents[2]
COMPOSITIONS = REPO / "compositions"
MANIFESTS = sorted(COMPOSITIONS.glob("*.yaml"))
# apiVersion/kind whose CRDs ship with Crossplane itself and are not in ../shared/crossplane: validated offline.
OFFLINE_ONLY = {("meta.pkg.crossplane.io/v1", "Configuration"), ("pkg.crossplane.io/v1", "Provider"),
                ("pkg.crossplane.io/v1beta1", "DeploymentRuntimeConfig")}
PROVIDER_VERSION = "v2.6.0"
CREDENTIAL_FILES = {"cluster-provider-config-irsa.yaml": "IRSA",
                    "cluster-provider-config-pod-identity.yaml": "PodIdentity",
                    "cluster-provider-config-secret.yaml": "Secret"}


def docs_of(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kind_names() -> list[str]:
    return sorted(f"{k.plural}.{k.group}" for k in KINDS.values())


def services() -> list[str]:
    return sorted({k.service for k in KINDS.values()})


def shared_crd(name: str) -> Path | None:
    """The CRD file ../shared/crossplane holds for ``<plural>.<group>``, if any."""
    plural, _, group = name.partition(".")
    for directory in crossplane_crd_dirs():
        path = directory / f"{group}_{plural}.yaml"
        if path.is_file():
            return path
    return None


# ------------------------------------------------------------------------------------------------ offline


def test_generated_files_are_up_to_date() -> None:
    generated = {sync_chart_crds.MRAP, sync_chart_crds.CONFIGURATION, sync_chart_crds.PROVIDERS}
    stale = generated & set(sync_chart_crds.stale())
    assert not stale, f"run python -m hack.sync_chart_crds: {sorted(str(p) for p in stale)}"


def test_every_manifest_parses_and_is_known() -> None:
    expected = {"crossplane.yaml", "providers.yaml", "deployment-runtime-config.yaml",
                "managed-resource-activation-policy.yaml", *CREDENTIAL_FILES}
    assert {p.name for p in MANIFESTS} == expected
    for path in MANIFESTS:
        for doc in docs_of(path):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path.name
    assert (COMPOSITIONS / "README.md").is_file()


def test_activation_policy_covers_exactly_kinds() -> None:
    (mrap,) = docs_of(COMPOSITIONS / "managed-resource-activation-policy.yaml")
    assert (mrap["apiVersion"], mrap["kind"]) == ("apiextensions.crossplane.io/v1alpha1",
                                                  "ManagedResourceActivationPolicy")
    activate = mrap["spec"]["activate"]
    assert activate == kind_names(), "the MRAP must list exactly the rendered kinds, sorted"
    assert not any("*" in name for name in activate), "no wildcards: activate only what is rendered"
    missing = [name for name in activate if shared_crd(name) is None]
    assert not missing, f"MRAP names kinds provider-aws v2.6.0 does not have: {missing}"


def test_activation_policy_schema_accepts_the_list() -> None:
    """The MRAP CRD's own schema (spec.activate: array of strings, minItems 1), read from the shared CRD."""
    crd = yaml.safe_load(shared_crd("managedresourceactivationpolicies.apiextensions.crossplane.io").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["required"] == ["activate"] and spec["properties"]["activate"]["minItems"] >= 1
    assert crd["spec"]["scope"] == "Cluster"


def test_configuration_depends_on_exactly_the_rendered_services() -> None:
    (meta,) = docs_of(COMPOSITIONS / "crossplane.yaml")
    assert (meta["apiVersion"], meta["kind"]) == ("meta.pkg.crossplane.io/v1", "Configuration")
    assert re.fullmatch(r">=v2\.\d+\.\d+", meta["spec"]["crossplane"]["version"])
    deps = meta["spec"]["dependsOn"]
    for dep in deps:
        # Crossplane v2's dependency form (apiVersion/kind/package), not the deprecated `provider:` key.
        assert set(dep) == {"apiVersion", "kind", "package", "version"}, dep
        assert (dep["apiVersion"], dep["kind"]) == ("pkg.crossplane.io/v1", "Provider")
        assert dep["version"] == f">={PROVIDER_VERSION}"
        assert ":" not in dep["package"].rsplit("/", 1)[1], "the version constraint goes in `version`, not a tag"
    assert [d["package"] for d in deps] == [f"xpkg.upbound.io/upbound/provider-aws-{s}" for s in services()]
    assert len(services()) == 16


def test_providers_are_pinned_and_reference_an_existing_runtime_config() -> None:
    providers = docs_of(COMPOSITIONS / "providers.yaml")
    runtime_configs = {d["metadata"]["name"]: d for d in docs_of(COMPOSITIONS / "deployment-runtime-config.yaml")}
    assert [p["spec"]["package"] for p in providers] == [
        f"xpkg.upbound.io/upbound/provider-aws-{s}:{PROVIDER_VERSION}" for s in services()]
    for provider in providers:
        assert (provider["apiVersion"], provider["kind"]) == ("pkg.crossplane.io/v1", "Provider")
        assert provider["spec"]["runtimeConfigRef"]["name"] in runtime_configs


def test_deployment_runtime_configs_offline() -> None:
    """No DeploymentRuntimeConfig CRD in ../shared (it ships with Crossplane): the shape is checked here."""
    configs = {d["metadata"]["name"]: d for d in docs_of(COMPOSITIONS / "deployment-runtime-config.yaml")}
    assert set(configs) == {"aws-irsa", "aws-pod-identity"}
    for config in configs.values():
        assert (config["apiVersion"], config["kind"]) == ("pkg.crossplane.io/v1beta1", "DeploymentRuntimeConfig")
        assert set(config["spec"]) == {"serviceAccountTemplate"}
    irsa = configs["aws-irsa"]["spec"]["serviceAccountTemplate"]["metadata"]["annotations"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", irsa["eks.amazonaws.com/role-arn"])
    assert configs["aws-pod-identity"]["spec"]["serviceAccountTemplate"]["metadata"]["name"] == "provider-aws"


def test_cluster_provider_configs_use_each_credential_source_the_crd_allows() -> None:
    crd = yaml.safe_load(shared_crd("clusterproviderconfigs.aws.m.upbound.io").read_text())
    (version,) = crd["spec"]["versions"]
    enum = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["credentials"]["properties"][
        "source"]["enum"]
    for name, source in CREDENTIAL_FILES.items():
        (doc,) = docs_of(COMPOSITIONS / name)
        assert (doc["apiVersion"], doc["kind"]) == (f"aws.m.upbound.io/{version['name']}", "ClusterProviderConfig")
        assert doc["metadata"]["name"] == "default", "RegionalDeployment.spec.providerConfigRef defaults to it"
        assert doc["spec"]["credentials"]["source"] == source and source in enum
    secret = docs_of(COMPOSITIONS / "cluster-provider-config-secret.yaml")[0]["spec"]["credentials"]["secretRef"]
    assert set(secret) == {"namespace", "name", "key"}


# ------------------------------------------------------------------------------------------------ cluster


def _served(cp: ControlPlane) -> set[tuple[str, str]]:
    """(apiVersion, kind) pairs the API server serves (one discovery call)."""
    out = cp.kubectl("api-resources", "-o", "wide", "--no-headers").stdout
    pairs = set()
    for line in out.splitlines():
        cols = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS...
        idx = next(i for i, c in enumerate(cols) if c in ("true", "false"))
        pairs.add((cols[idx - 1], cols[idx + 1]))
    return pairs


@pytest.mark.cluster
def test_manifests_are_admitted_with_strict_validation(control_plane: ControlPlane,
                                                       crossplane_crds: list[str]) -> None:
    served = _served(control_plane)
    applied, offline = [], []
    for path in MANIFESTS:
        pairs = {(d["apiVersion"], d["kind"]) for d in docs_of(path)}
        if pairs <= served:
            proc = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "--validate=strict",
                                         "--field-manager=compositions-test", "-f", str(path), check=False)
            assert proc.returncode == 0, f"{path.name}: {proc.stderr}"
            assert "Warning" not in proc.stderr, f"{path.name}: {proc.stderr}"
            applied.append(path.name)
        else:
            assert pairs <= OFFLINE_ONLY, f"{path.name}: no CRD for {pairs - served - OFFLINE_ONLY}"
            offline.append(path.name)
    # The package kinds are served only once tests/unit/composition has installed Crossplane's core CRDs into this
    # session's control plane; then their files are held to the same strict validation.
    packages = {"deployment-runtime-config.yaml": ("pkg.crossplane.io/v1beta1", "DeploymentRuntimeConfig"),
                "providers.yaml": ("pkg.crossplane.io/v1", "Provider")}
    served_packages = [name for name, pair in packages.items() if pair in served]
    assert sorted(applied) == sorted(["managed-resource-activation-policy.yaml", *CREDENTIAL_FILES,
                                      *served_packages])
    assert sorted(offline) == sorted({"crossplane.yaml", *packages} - set(served_packages))


@pytest.mark.cluster
def test_strict_validation_would_catch_a_typo(control_plane: ControlPlane, crossplane_crds: list[str]) -> None:
    """The dry-run above is meaningful: an unknown field is refused, a wrong enum value too."""
    (doc,) = docs_of(COMPOSITIONS / "cluster-provider-config-irsa.yaml")
    typo = json.loads(json.dumps(doc))
    typo["spec"]["credentials"]["sauce"] = "IRSA"
    bad_enum = json.loads(json.dumps(doc))
    bad_enum["spec"]["credentials"]["source"] = "Environment"
    for broken in (typo, bad_enum):
        proc = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "--validate=strict",
                                     "--field-manager=compositions-test", "-f", "-", input=json.dumps(broken),
                                     check=False)
        assert proc.returncode != 0, broken


@pytest.mark.cluster
def test_activation_policy_names_resolve_to_installed_crds(control_plane: ControlPlane,
                                                           crossplane_crds: list[str]) -> None:
    """Every MRAP entry is the name of an installed, namespaced v1beta1 CRD: exactly what the operator applies."""
    (mrap,) = docs_of(COMPOSITIONS / "managed-resource-activation-policy.yaml")
    installed = {c["metadata"]["name"]: c for c in control_plane.kubectl_json("get", "crds")["items"]}
    for name in mrap["spec"]["activate"]:
        assert name in installed, name
        crd = installed[name]
        assert crd["spec"]["scope"] == "Namespaced", name
        assert "v1beta1" in {v["name"] for v in crd["spec"]["versions"] if v["served"]}, name

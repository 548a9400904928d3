"""The test control plane itself: real versions, CRDs, watches, GC, server-side apply, RBAC, teardown, restart.

These pin down the properties later operator tests rely on, so a harness regression shows up here first.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devtools.controlplane import (
    ControlPlane,
    ControlPlaneError,
    KubectlError,
    LocalControlPlane,
    crossplane_crd_dirs,
    expected_kubernetes_version,
    pid_alive,
    process_group_members,
    wait_for,
)
from devtools.controlplane.crds import established_crds, install_crds, manifest_files
from devtools.controlplane.namespaces import ephemeral_namespace, release_stuck_namespaces

pytestmark = pytest.mark.cluster

FIELD_MANAGER = "regional-operator"


# ------------------------------------------------------------------------------------------------- helpers


def vpc(name: str, namespace: str, **for_provider: Any) -> dict[str, Any]:
    """A minimal namespaced Crossplane v2 VPC managed resource."""
    return {
        "apiVersion": "ec2.aws.m.upbound.io/v1beta1",
        "kind": "VPC",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "forProvider": {"region": "eu-west-1", "cidrBlock": "10.10.0.0/16", **for_provider},
            "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"},
        },
    }


def apply(cp: ControlPlane, manifest: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    """Server-side apply ``manifest`` from stdin with our field manager and strict field validation."""
    return cp.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--validate=strict",
                      "-f", "-", *extra, input=json.dumps(manifest))


def configmap(name: str, namespace: str, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner:
        metadata["ownerReferences"] = [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
        }]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


def create(cp: ControlPlane, manifest: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = cp.kubectl_json("create", "-f", "-", input=json.dumps(manifest))
    return result


def exists(cp: ControlPlane, *ref: str) -> bool:
    return cp.kubectl("get", *ref, "--ignore-not-found", "-o", "name").stdout.strip() != ""


@pytest.fixture
def core(control_plane: ControlPlane) -> Iterator[client.CoreV1Api]:
    with control_plane.api_client() as api:
        yield client.CoreV1Api(api)


# --------------------------------------------------------------------------------------------- the server


def test_reports_the_real_kubernetes_version(control_plane: ControlPlane) -> None:
    expected = expected_kubernetes_version()
    # /version straight over HTTPS, trusting only ca_path: also proves server + ca_path are usable as given.
    context = ssl.create_default_context(cafile=str(control_plane.ca_path))
    with urllib.request.urlopen(f"{control_plane.server}/version", context=context, timeout=10) as response:
        server_version = json.load(response)
    assert server_version["gitVersion"] == expected

    versions = control_plane.kubectl_json("version")
    assert versions["clientVersion"]["gitVersion"] == expected
    assert versions["serverVersion"]["gitVersion"] == expected
    assert (control_plane.helm_path).is_file()


def test_admits_and_lists_a_custom_resource(control_plane: ControlPlane, namespace: str) -> None:
    group = f"t{secrets.token_hex(3)}.regional-operator.test"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}}}},
            }],
        },
    }
    try:
        control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(crd))
        control_plane.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=60s")
        for name, size in (("small", 1), ("large", 9)):
            create(control_plane, {"apiVersion": f"{group}/v1", "kind": "Widget",
                                   "metadata": {"name": name, "namespace": namespace}, "spec": {"size": size}})
        with pytest.raises(KubectlError, match=r"spec.size: Invalid value: 0: spec.size in body should be "
                                               r"greater than or equal to 1"):
            create(control_plane, {"apiVersion": f"{group}/v1", "kind": "Widget",
                                   "metadata": {"name": "zero", "namespace": namespace}, "spec": {"size": 0}})
        listed = control_plane.kubectl_json("get", f"widgets.{group}", "-n", namespace)
        assert {(w["metadata"]["name"], w["spec"]["size"]) for w in listed["items"]} == {("small", 1), ("large", 9)}
    finally:
        control_plane.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", "--ignore-not-found")


def test_serves_a_watch(control_plane: ControlPlane, namespace: str, core: client.CoreV1Api) -> None:
    # _preload_content=False returns once the response headers arrive, i.e. once the watch is registered.
    stream = core.list_namespaced_config_map(namespace, watch=True, timeout_seconds=30, _preload_content=False)
    try:
        create(control_plane, configmap("watched", namespace))
        events = (json.loads(line) for line in stream if line.strip())
        added = next(e for e in events if e["object"]["metadata"]["name"] == "watched")
    finally:
        stream.release_conn()
    assert added["type"] == "ADDED"


def test_metrics_count_requests(control_plane: ControlPlane, namespace: str) -> None:
    def lists() -> float:
        return control_plane.metrics().total(verb="LIST", resource="configmaps")

    before = lists()
    for _ in range(3):
        control_plane.kubectl("get", "configmaps", "-n", namespace)
    assert lists() >= before + 3


# ------------------------------------------------------------------------------------- controller manager


def test_garbage_collects_dependents(control_plane: ControlPlane, namespace: str) -> None:
    owner = create(control_plane, configmap("owner", namespace))
    create(control_plane, configmap("dependent", namespace, owner=owner))
    control_plane.kubectl("delete", "configmap", "owner", "-n", namespace, "--cascade=background")
    wait_for(lambda: not exists(control_plane, "configmap", "dependent", "-n", namespace), timeout=60,
             what="the garbage collector to delete the dependent ConfigMap")


# ---------------------------------------------------------------------------------------------- Crossplane


def test_every_crossplane_crd_is_established(control_plane: ControlPlane, crossplane_crds: list[str]) -> None:
    provider, core_dir = crossplane_crd_dirs()
    # The shared data's own index (provider-aws-v2.6.0.tsv: one row per CRD file) guards against a partial copy.
    index_rows = (provider.parent / f"{provider.name}.tsv").read_text().strip().splitlines()[1:]
    provider_files, core_files = manifest_files([provider]), manifest_files([core_dir])
    assert len(provider_files) == len(index_rows) == 163
    assert len(core_files) == 5
    assert len(crossplane_crds) == len(provider_files) + len(core_files)
    assert set(crossplane_crds) <= established_crds(control_plane)
    # Both flavours made it: the v2 namespaced group and the legacy cluster-scoped one.
    scopes = {crd["metadata"]["name"]: crd["spec"]["scope"]
              for crd in control_plane.kubectl_json("get", "crd")["items"]}
    assert scopes["vpcs.ec2.aws.m.upbound.io"] == "Namespaced"
    assert scopes["vpcs.ec2.aws.upbound.io"] == "Cluster"


def test_crd_install_is_idempotent(control_plane: ControlPlane, crossplane_crds: list[str]) -> None:
    provider, _ = crossplane_crd_dirs()
    again = install_crds(control_plane, [provider / "ec2.aws.m.upbound.io_vpcs.yaml"])
    assert again == ["vpcs.ec2.aws.m.upbound.io"]


def test_server_side_apply_of_a_managed_resource(
    control_plane: ControlPlane, crossplane_crds: list[str], namespace: str
) -> None:
    applied = json.loads(apply(control_plane, vpc("main", namespace), "--dry-run=server", "--show-managed-fields",
                               "-o", "json").stdout)
    managers = {(m["manager"], m["operation"]) for m in applied["metadata"]["managedFields"]}
    assert (FIELD_MANAGER, "Apply") in managers
    assert applied["spec"]["managementPolicies"] == ["*"]  # the CRD's default, applied by the real server
    assert not exists(control_plane, "vpcs.ec2.aws.m.upbound.io", "main", "-n", namespace)  # dry run


def test_refuses_malformed_managed_resources(
    control_plane: ControlPlane, crossplane_crds: list[str], namespace: str
) -> None:
    bad_type = vpc("bad-type", namespace, cidrBlock=123)
    # Server-side apply refuses it while building the typed patch from the CRD schema...
    with pytest.raises(KubectlError) as by_apply:
        apply(control_plane, bad_type, "--dry-run=server")
    assert (f"Error from server: failed to create typed patch object ({namespace}/bad-type; "
            "ec2.aws.m.upbound.io/v1beta1, Kind=VPC)") in str(by_apply.value)
    assert ".spec.forProvider.cidrBlock: expected string, got" in str(by_apply.value)
    # ...and a plain create fails the CRD's OpenAPI validation.
    with pytest.raises(KubectlError) as by_create:
        control_plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(bad_type))
    assert ('The VPC "bad-type" is invalid: spec.forProvider.cidrBlock: Invalid value: "integer": '
            'spec.forProvider.cidrBlock in body must be of type string: "integer"') in str(by_create.value)

    with pytest.raises(KubectlError) as unknown:
        apply(control_plane, vpc("bad-field", namespace, cidrBlok="10.0.0.0/16"), "--dry-run=server")
    assert ".spec.forProvider.cidrBlok: field not declared in schema" in str(unknown.value)
    with pytest.raises(KubectlError, match=r'strict decoding error: unknown field "spec.forProvider.cidrBlok"'):
        control_plane.kubectl("create", "--dry-run=server", "--validate=strict", "-f", "-",
                              input=json.dumps(vpc("bad-field", namespace, cidrBlok="10.0.0.0/16")))

    missing_region = vpc("no-region", namespace)
    del missing_region["spec"]["forProvider"]["region"]
    with pytest.raises(KubectlError, match=r"spec.forProvider.region: Required value"):
        apply(control_plane, missing_region, "--dry-run=server")


# ---------------------------------------------------------------------------------------------------- RBAC


def test_rbac_forbids_the_developer_what_admin_may(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl("create", "secret", "generic", "s", "-n", namespace, "--from-literal=k=v")
    assert control_plane.kubectl("get", "secrets", "-n", namespace, "-o", "name").stdout.split() == ["secret/s"]

    denied = control_plane.kubectl("get", "secrets", "-n", namespace, as_developer=True, check=False)
    assert denied.returncode != 0
    assert (f'secrets is forbidden: User "developer" cannot list resource "secrets" in API group "" '
            f'in the namespace "{namespace}"') in denied.stderr

    with control_plane.api_client(as_developer=True) as api, pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespaced_secret(namespace)
    assert err.value.status == 403


# --------------------------------------------------------------------------------------------- lifecycle


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (every component's flags name its temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if pid_alive(pid)]


def test_teardown_leaves_nothing_behind(control_plane: ControlPlane) -> None:
    second = ControlPlane.start(allow_external=False)
    assert isinstance(second, LocalControlPlane)
    with second:
        if isinstance(control_plane, LocalControlPlane):
            assert second.server != control_plane.server
            assert second.etcd_prefix != control_plane.etcd_prefix
        assert second.kubectl("get", "namespace", "default", "-o", "name").stdout.strip() == "namespace/default"
        pids = second.pids()
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert all(pid_alive(pid) for pid in pids.values())
        tmp_dir = second.tmp_dir
        assert tmp_dir.is_dir()
    assert [name for name, pid in pids.items() if pid_alive(pid)] == []
    assert [pgid for pgid in pids.values() if process_group_members(pgid)] == []
    assert not tmp_dir.exists()
    assert _processes_mentioning(str(tmp_dir)) == []
    second.stop()  # idempotent


def test_failed_start_reports_the_log_and_cleans_up(tmp_path: Path, control_plane: ControlPlane) -> None:
    """A component that dies at start-up: the error quotes its log, and no process or temp dir survives."""
    source = control_plane.bin_dir  # the session's real binaries; only kube-apiserver is swapped for a dud
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("etcd", "kube-controller-manager", "kubectl", "helm"):
        (fake / name).symlink_to(source / name)
    (fake / "kube-apiserver").write_text("#!/bin/sh\necho 'simulated apiserver failure: bad flag' >&2\nexit 3\n")
    (fake / "kube-apiserver").chmod(0o755)

    expected = r"(?s)kube-apiserver exited before .*simulated apiserver failure"
    with pytest.raises(ControlPlaneError, match=expected) as failure:
        ControlPlane.start(bin_dir=fake, allow_external=False, startup_timeout=30)
    # The message names the log inside the failed plane's temp dir; other sessions' dirs may come and go.
    log = re.search(r"last lines of (\S+/kube-apiserver\.log)", str(failure.value))
    assert log, "the error should name the component's log file"
    tmp_dir = Path(log.group(1)).parent
    assert not tmp_dir.exists()
    assert _processes_mentioning(str(tmp_dir)) == []  # etcd, started first, was stopped too


def test_a_test_namespace_held_by_a_finalizer_is_released(
        control_plane: ControlPlane, crossplane_crds: list[str]) -> None:
    """An MR whose provider stand-in stopped keeps its namespace Terminating forever; the release drops what holds
    it, only in namespaces labelled as a test's, and the namespace is then gone."""
    with ephemeral_namespace(control_plane, "stuck") as ns:
        held = {**vpc("held", ns), "metadata": {"name": "held", "namespace": ns, "finalizers": ["test/held"]}}
        apply(control_plane, held)
    wait_for(lambda: "NamespaceContentRemaining" in json.dumps(
        control_plane.kubectl_json("get", "namespace", ns).get("status", {})), timeout=60, what="namespace stuck")
    released = release_stuck_namespaces(control_plane)
    assert f"{ns}/vpc.ec2.aws.m.upbound.io/held" in released
    wait_for(lambda: not exists(control_plane, "namespace", ns), timeout=60, what="released namespace deleted")


@pytest.mark.restarts_apiserver
def test_restart_apiserver_keeps_data(control_plane: ControlPlane, crossplane_crds: list[str], namespace: str) -> None:
    """Runs last in this module: it bounces the session's API server (and etcd)."""
    create(control_plane, configmap("survivor", namespace))
    apply(control_plane, vpc("survivor", namespace))
    began = time.monotonic()
    control_plane.restart_apiserver()
    restart_seconds = time.monotonic() - began

    assert exists(control_plane, "configmap", "survivor", "-n", namespace)
    stored = control_plane.kubectl_json("get", "vpcs.ec2.aws.m.upbound.io", "survivor", "-n", namespace)
    assert stored["spec"]["forProvider"]["cidrBlock"] == "10.10.0.0/16"
    assert set(crossplane_crds) <= established_crds(control_plane)
    # The controller manager, left running, reconnects: garbage collection still works after the outage.
    owner = create(control_plane, configmap("owner-after-restart", namespace))
    create(control_plane, configmap("dependent-after-restart", namespace, owner=owner))
    control_plane.kubectl("delete", "configmap", owner["metadata"]["name"], "-n", namespace)
    wait_for(lambda: not exists(control_plane, "configmap", "dependent-after-restart", "-n", namespace),
             timeout=90, what="garbage collection after the restart")
    assert restart_seconds < 60, f"restart took {restart_seconds:.1f}s"

"""The Helm chart (charts/regional-operator): lint, render and check the invariants that matter in production.

Offline tests run the real helm binary (devtools/controlplane/build.sh, the same pinned v3 build the cluster tests
use) on every values fixture in tests/data/chart-values/. One cluster test installs the chart into the real API
server and checks that every object was admitted; the Deployment's pods never run there (the test control plane
has no scheduler, kubelet or deployment controller), which is expected.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf._cogs.structs import references
from regional_operator.defaults import parse_defaults
from regional_operator.render.kinds import KINDS

from devtools.controlplane import ControlPlane, find_bin_dir
from hack import sync_chart_crds

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "regional-operator"
VALUES_DIR = REPO / "tests" / "data" / "chart-values"
VALUE_FILES = sorted(VALUES_DIR.glob("*.yaml"))
PACKAGED_DEFAULTS = REPO / "operator" / "regional_operator" / "data" / "region-defaults.yaml"
RELEASE_NAMESPACE = "regional-operator"
RBAC_KINDS = {"Role", "ClusterRole"}
MR_SUFFIX = ".aws.m.upbound.io"
# Objects only the kopf framework needs, cluster-scoped (everything namespaced is in KINDS or the CRD).
CLUSTER_ONLY = {("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces"),
                ("kopf.dev", "clusterkopfpeerings")}


# ------------------------------------------------------------------------------------------------ helpers


@cache
def helm_path() -> Path:
    return find_bin_dir() / "helm"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(helm_path()), *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    return proc


def render(values: Path | None = None, *, release: str = "ro", namespace: str = RELEASE_NAMESPACE,
           sets: Sequence[str] = ()) -> list[dict[str, Any]]:
    """`helm template` the chart; the parsed objects (CRDs from crds/ included, as helm install would apply)."""
    args = ["template", release, str(CHART), "--namespace", namespace, "--include-crds"]
    if values is not None:
        args += ["-f", str(values)]
    for s in sets:
        args += ["--set", s]
    return [d for d in yaml.safe_load_all(helm(*args).stdout) if d]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def values_of(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def rules_by_group(role: dict[str, Any]) -> dict[str, set[str]]:
    """{apiGroup: resources} of one Role/ClusterRole (every rule names one group: asserted)."""
    grouped: dict[str, set[str]] = {}
    for rule in role["rules"]:
        assert len(rule["apiGroups"]) == 1, f"one group per rule keeps review simple: {rule}"
        grouped.setdefault(rule["apiGroups"][0], set()).update(rule["resources"])
    return grouped


def kinds_by_group() -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for k in KINDS.values():
        grouped.setdefault(k.group, set()).add(k.plural)
    return grouped


values_param = pytest.mark.parametrize("values", VALUE_FILES, ids=[p.stem for p in VALUE_FILES])


# ------------------------------------------------------------------------------------ sources of truth


def test_value_fixtures_cover_the_three_shapes() -> None:
    assert {p.stem for p in VALUE_FILES} >= {"default", "namespaced", "ha"}


def test_generated_files_are_up_to_date() -> None:
    """CRD copies, managed-kinds.yaml, the Crossplane files and values.yaml's regionDefaults are regenerated."""
    stale = [str(p.relative_to(REPO)) for p in sync_chart_crds.stale()]
    assert not stale, f"stale generated files (run: python -m hack.sync_chart_crds): {stale}"


def test_chart_crds_are_the_repository_crds() -> None:
    repo_crds = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    chart_crds = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert repo_crds, "no CRDs in crds/"
    for name, content in repo_crds.items():
        assert chart_crds.get(name) == content, f"charts/regional-operator/crds/{name} differs from crds/{name}"
    # The only extra is kopf's peering CRDs (vendored from kopf, not ours).
    assert set(chart_crds) - set(repo_crds) == {"kopf.dev_peerings.yaml"}


def test_kopf_peering_crds_match_what_kopf_uses() -> None:
    """kopf 1.45 looks for kopf.dev/v1 clusterkopfpeerings / kopfpeerings (zalando.org is the legacy group)."""
    docs = [d for d in yaml.safe_load_all((CHART / "crds" / "kopf.dev_peerings.yaml").read_text()) if d]
    served = {(d["spec"]["group"], v["name"], d["spec"]["names"]["plural"], d["spec"]["scope"])
              for d in docs for v in d["spec"]["versions"] if v["served"]}
    cluster, namespaced = references.CLUSTER_PEERINGS_K, references.NAMESPACED_PEERINGS_K
    assert served == {(cluster.group, cluster.version, cluster.any_name, "Cluster"),
                      (namespaced.group, namespaced.version, namespaced.any_name, "Namespaced")}


def test_managed_kinds_file_lists_exactly_kinds() -> None:
    data = yaml.safe_load((CHART / "files" / "managed-kinds.yaml").read_text())
    listed = {g["apiGroup"]: set(g["resources"]) for g in data["groups"]}
    assert listed == kinds_by_group()


def test_values_region_defaults_equal_the_packaged_file() -> None:
    assert values_of(CHART / "values.yaml")["regionDefaults"] == yaml.safe_load(PACKAGED_DEFAULTS.read_text())


# ------------------------------------------------------------------------------------------------ lint


@values_param
def test_helm_lint_strict_is_clean(values: Path) -> None:
    proc = helm("lint", str(CHART), "--strict", "-f", str(values), "--namespace", RELEASE_NAMESPACE)
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("bad", ["bogus=1", "image.bogus=1", "metrics.serviceMonitor.bogus=true", "logFormat=xml",
                                 "replicas=0", "watchNamespaces[0]=Not_A_Namespace",
                                 "env[0].name=REGIONAL_OPERATOR_DEFAULTS",
                                 "tenancy.grants[0].namespaces[0]=payments,tenancy.grants[0].awsAccountIds[0]=1234",
                                 "tenancy.grants[0].awsAccountIds[0]=123456789012",  # a grant for no namespace
                                 "tenancy.bogus=1"])
def test_schema_rejects_unknown_and_invalid_values(bad: str) -> None:
    proc = helm("template", "ro", str(CHART), "--set", bad, check=False)
    assert proc.returncode != 0 and "values don't meet the specifications of the schema" in proc.stderr, (
        bad, proc.stderr[-600:])


def test_the_tenancy_policy_is_on_by_default_and_grants_nothing() -> None:
    """Issue 13: the safe default is shipped: a Deny binding for every namespace, no account and no
    ClusterProviderConfig granted (the policy itself is tested on the API server:
    tests/cluster/test_tenancy_policy.py)."""
    docs = render()
    policy, binding = one(docs, "ValidatingAdmissionPolicy"), one(docs, "ValidatingAdmissionPolicyBinding")
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert variables["awsAccountIds"] == variables["clusterProviderConfigs"] == "[]"
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == ["regionaldeployments"]
    assert not of_kind(render(sets=["tenancy.enabled=false"]), "ValidatingAdmissionPolicy")


def test_peering_cannot_be_disabled_with_several_replicas() -> None:
    proc = helm("template", "ro", str(CHART), "--set", "replicas=2", "--set", "peering.enabled=false", check=False)
    assert proc.returncode != 0 and "several active operators" in proc.stderr


# ---------------------------------------------------------------------------------------- invariants


@values_param
def test_pod_security_standard_restricted(values: Path) -> None:
    docs = render(values)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    c = container(docs)
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not sc.get("privileged")
    # The only writable path is an emptyDir at /tmp; the region defaults come read-only from the ConfigMap.
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert mounts["/etc/regional-operator"]["readOnly"] is True
    assert all("hostPath" not in v for v in volumes.values())


@values_param
def test_rollout_strategy_recreate_iff_single_replica(values: Path) -> None:
    docs = render(values)
    deployment = one(docs, "Deployment")
    replicas = values_of(values).get("replicas", 1)
    assert deployment["spec"]["replicas"] == replicas
    expected = "Recreate" if replicas == 1 else "RollingUpdate"
    assert deployment["spec"]["strategy"]["type"] == expected


@values_param
def test_pdb_iff_several_replicas(values: Path) -> None:
    docs = render(values)
    replicas = values_of(values).get("replicas", 1)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    assert len(pdbs) == (1 if replicas > 1 else 0)
    for pdb in pdbs:
        assert pdb["spec"]["selector"]["matchLabels"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]


@values_param
def test_operator_command_line(values: Path) -> None:
    docs = render(values)
    v = values_of(values)
    c = container(docs)
    args = c["args"]
    assert c["command"] == ["kopf"] and args[:1] == ["run"]
    assert args[args.index("-m") + 1] == "regional_operator.handlers"
    assert "--liveness=http://0.0.0.0:8080/healthz" in args
    assert f"--log-format={v.get('logFormat', 'json')}" in args
    peering = [a for a in args if a.startswith("--peering=")]
    if v.get("replicas", 1) > 1:
        assert "--standalone" not in args and len(peering) == 1
    else:
        assert "--standalone" in args and not peering
    namespaces = v.get("watchNamespaces") or []
    if namespaces:
        assert [a for a in args if a.startswith("--namespace=")] == [f"--namespace={n}" for n in namespaces]
        assert "--all-namespaces" not in args
    else:
        assert "--all-namespaces" in args and not any(a.startswith("--namespace") for a in args)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


@values_param
def test_region_defaults_configmap_is_mounted_where_the_operator_reads_it(values: Path) -> None:
    docs = render(values)
    c = container(docs)
    env = {e["name"]: e for e in c["env"]}
    path = Path(env["REGIONAL_OPERATOR_DEFAULTS"]["value"])
    mount = next(m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent)
    volume = next(v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == mount["name"])
    configmap = one(docs, "ConfigMap")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert "subPath" not in mount, "a subPath mount would never see ConfigMap updates"
    assert yaml.safe_load(configmap["data"][path.name]) == yaml.safe_load(PACKAGED_DEFAULTS.read_text())
    assert env["REGIONAL_OPERATOR_METRICS_PORT"]["value"] == "9090"
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_region_defaults_parse_with_the_operators_own_loader() -> None:
    configmap = one(render(), "ConfigMap")
    parsed = parse_defaults(configmap["data"]["region-defaults.yaml"])
    assert parsed == parse_defaults(PACKAGED_DEFAULTS.read_text())


@values_param
def test_rbac_scope_roles_per_namespace_iff_watch_namespaces(values: Path) -> None:
    docs = render(values)
    namespaces = values_of(values).get("watchNamespaces") or []
    roles = of_kind(docs, "Role")
    bindings = of_kind(docs, "RoleBinding")
    cluster_roles = of_kind(docs, "ClusterRole")
    sa = one(docs, "ServiceAccount")["metadata"]
    if namespaces:
        assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(namespaces)
        assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(namespaces)
        # The ClusterRole that remains grants only cluster-scoped reads kopf needs, nothing namespaced.
        (cluster_role,) = cluster_roles
        pairs = {(g, r) for g, rs in rules_by_group(cluster_role).items() for r in rs}
        assert pairs <= CLUSTER_ONLY
        for rule in cluster_role["rules"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
    else:
        assert not roles and not bindings
        assert len(cluster_roles) == 1
    for binding in bindings + of_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]
        ref = binding["roleRef"]
        assert any(r["metadata"]["name"] == ref["name"] for r in of_kind(docs, ref["kind"]))


@values_param
def test_rbac_has_no_wildcards_and_no_secrets(values: Path) -> None:
    for role in [d for d in render(values) if d["kind"] in RBAC_KINDS]:
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups"):
                assert all("*" not in item for item in rule[field]), (role["metadata"]["name"], rule)
            assert "secrets" not in rule["resources"], rule
            assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
            assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"]), rule


@values_param
def test_rbac_managed_resources_are_exactly_kinds(values: Path) -> None:
    """Every rendered kind (and nothing else of Crossplane's) in the role that grants namespaced access."""
    docs = render(values)
    granting = [d for d in docs if d["kind"] in RBAC_KINDS and "platform.regional.io" in rules_by_group(d)]
    assert granting
    for role in granting:
        grouped = rules_by_group(role)
        mr_groups = {g: rs for g, rs in grouped.items() if g.endswith(MR_SUFFIX) or "upbound" in g}
        assert mr_groups == kinds_by_group()
        assert grouped["platform.regional.io"] == {"regionaldeployments", "regionaldeployments/status"}
        assert grouped[""] >= {"events"} and grouped["events.k8s.io"] == {"events"}
        for rule in role["rules"]:
            group = rule["apiGroups"][0]
            if group in mr_groups:
                assert set(rule["verbs"]) == {"get", "list", "watch", "create", "patch", "update", "delete"}
            elif rule["resources"] == ["regionaldeployments"]:
                assert set(rule["verbs"]) == {"get", "list", "watch", "patch", "update"}
            elif rule["resources"] == ["regionaldeployments/status"]:
                assert set(rule["verbs"]) == {"patch", "update"}
        extra = set(grouped) - set(mr_groups) - {"platform.regional.io", "", "events.k8s.io",
                                                   "apiextensions.k8s.io", "kopf.dev"}
        assert not extra, f"unexpected API groups granted: {extra}"
        assert grouped.get("", set()) <= {"events", "namespaces"}


def test_peering_objects_and_permissions_follow_the_mode() -> None:
    ha = render(VALUES_DIR / "ha.yaml")
    name = next(a for a in container(ha)["args"] if a.startswith("--peering=")).split("=", 1)[1]
    assert [p["metadata"]["name"] for p in of_kind(ha, "ClusterKopfPeering")] == [name]
    assert "clusterkopfpeerings" in rules_by_group(one(ha, "ClusterRole"))["kopf.dev"]
    # Namespaced with peering: a KopfPeering in each watched namespace and the permission in each Role.
    ns_ha = render(VALUES_DIR / "namespaced.yaml", sets=["replicas=2"])
    peerings = of_kind(ns_ha, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["payments", "payments-staging"]
    for role in of_kind(ns_ha, "Role"):
        assert rules_by_group(role)["kopf.dev"] == {"kopfpeerings"}
    assert "kopf.dev" not in rules_by_group(one(ns_ha, "ClusterRole"))
    # Standalone: no peering objects, no peering permissions.
    single = render(VALUES_DIR / "default.yaml")
    assert not of_kind(single, "ClusterKopfPeering") and not of_kind(single, "KopfPeering")
    assert "kopf.dev" not in rules_by_group(one(single, "ClusterRole"))


def test_optional_objects() -> None:
    default = render(VALUES_DIR / "default.yaml")
    assert not of_kind(default, "ServiceMonitor") and not of_kind(default, "NetworkPolicy")
    service = one(default, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]
    ha = render(VALUES_DIR / "ha.yaml")
    monitor = one(ha, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert set(monitor["spec"]["selector"]["matchLabels"].items()) <= set(
        one(ha, "Service")["metadata"]["labels"].items())
    policy = one(ha, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert egress_ports == {(443, "TCP"), (6443, "TCP"), (53, "UDP"), (53, "TCP")}
    assert policy["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}],
                                  "from": values_of(VALUES_DIR / "ha.yaml")["networkPolicy"]["metricsFrom"]}]
    no_metrics = render(sets=["metrics.enabled=false"])
    assert not of_kind(no_metrics, "Service")
    env = {e["name"]: e.get("value") for e in container(no_metrics)["env"]}
    assert env["REGIONAL_OPERATOR_METRICS_PORT"] == "0"
    assert {p["name"] for p in container(no_metrics)["ports"]} == {"health"}


def test_image_reference_by_tag_or_digest() -> None:
    assert container(render())["image"] == "registry.example.com/platform/regional-operator:0.1.0"
    digest = values_of(VALUES_DIR / "namespaced.yaml")["image"]["digest"]
    assert container(render(VALUES_DIR / "namespaced.yaml"))["image"].endswith(f"@{digest}")


# ------------------------------------------------------------------------------------------------ cluster


def _objects_exist(cp: ControlPlane, manifest: list[dict[str, Any]]) -> list[str]:
    missing = []
    for obj in manifest:
        meta = obj["metadata"]
        ns = ["-n", meta["namespace"]] if meta.get("namespace") else []
        kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else obj["kind"]
        if cp.kubectl("get", kind, meta["name"], *ns, "-o", "name", check=False).returncode != 0:
            missing.append(f"{obj['kind']}/{meta['name']}")
    return missing


@pytest.mark.cluster
@values_param
def test_helm_install_into_the_api_server_admits_every_object(control_plane: ControlPlane, project_crds: list[str],
                                                             namespace: str, values: Path) -> None:
    """`helm install` against the real API server: every object admitted (CRD schemas, RBAC, Pod Security).

    The ServiceMonitor needs the Prometheus Operator CRDs, which this API server does not have, so it is
    switched off here (it is checked offline above). The pods never start: the test control plane runs no
    scheduler, kubelet or deployment controller, so only admission is proved, not a running pod.
    """
    cp = control_plane
    release = f"ro-{secrets.token_hex(3)}"
    watched = values_of(values).get("watchNamespaces") or []
    # The tenancy policy is cluster-wide: scoped here to namespaces labelled for this release (there are none),
    # so RegionalDeployments other tests of the session create are not refused while it is installed
    # (tests/cluster/test_tenancy_policy.py tests the policy itself).
    sets = ["metrics.serviceMonitor.enabled=false",
            f"tenancy.namespaceSelector.matchLabels.regional-operator\\.test/tenancy={release}"]
    created: list[str] = []
    for i, _ in enumerate(watched):  # the watched namespaces must exist; test-unique names
        name = f"{namespace}-w{i}"
        cp.kubectl("create", "namespace", name)
        created.append(name)
        sets.append(f"watchNamespaces[{i}]={name}")
    # Pod Security admission at "restricted" in the release namespace: the pod template must pass it.
    cp.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
               "pod-security.kubernetes.io/warn=restricted")
    common = ["--kubeconfig", str(cp.kubeconfig_path), "--namespace", namespace]
    try:
        proc = helm("install", release, str(CHART), *common, "-f", str(values),
                    *(a for s in sets for a in ("--set", s)), "--wait=false", "--timeout", "2m")
        assert "STATUS: deployed" in proc.stdout
        # NOTES.txt: the next commands a user runs.
        assert "kubectl apply -f examples/two-region.yaml" in proc.stdout
        assert "kubectl wait --for=condition=Ready rd/payments -n payments --timeout=30m" in proc.stdout
        assert "Warning" not in proc.stderr, proc.stderr
        manifest = [d for d in yaml.safe_load_all(helm("get", "manifest", release, *common).stdout) if d]
        assert {d["kind"] for d in manifest} >= {"Deployment", "ServiceAccount", "ConfigMap",
                                                 "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
        assert not _objects_exist(cp, manifest)
        # The restricted profile is enforced on pods at creation; a dry-run pod from the template proves the
        # pod spec itself is admitted under it.
        deployment = next(d for d in manifest if d["kind"] == "Deployment")
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{release}-probe", "namespace": namespace,
                            "labels": deployment["spec"]["template"]["metadata"]["labels"]},
               "spec": deployment["spec"]["template"]["spec"]}
        dry = cp.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
        assert dry.returncode == 0, dry.stderr
        assert "violate" not in dry.stderr, dry.stderr
        status = helm("status", release, *common, "-o", "json")
        assert json.loads(status.stdout)["info"]["status"] == "deployed"
    finally:
        helm("uninstall", release, *common, "--wait=false", check=False)
        for name in created:
            cp.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")

"""The chart's RBAC is enough, and no more: proved against the real API server's RBAC authorizer.

The ServiceAccount and the RBAC objects come from `helm template` of the chart. The operator then runs as that
ServiceAccount for real: a bound token from the TokenRequest API (`kubectl create token`), not impersonation
(neither kopf's nor the official client's kubeconfig loader honours `as:`), and reconciles the two-region example
to Ready with the provider simulator. `kubectl auth can-i --as=system:serviceaccount:...` shows what it cannot do.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from regional_operator.render.kinds import KINDS

from devtools import processes
from devtools.controlplane import ControlPlane, crossplane_crd_dirs
from devtools.controlplane.harness import write_kubeconfig
from tests.cluster.test_chart import CHART, render
from tests.e2e.conftest import Env, load_example

pytestmark = pytest.mark.cluster

RBAC_OBJECTS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
PEERING_CRDS = CHART / "crds" / "kopf.dev_peerings.yaml"
FORBIDDEN_LOG = re.compile(r"[Ff]orbidden|Not enough permissions")
# Refused for another reason than RBAC: an Event for a RegionalDeployment in a namespace an earlier test is deleting
# (the cluster-wide operator watches every namespace); the API server answers 403 with this cause.
NOT_RBAC = re.compile(r"NamespaceTerminating|because it is being terminated")


class Install:
    """The chart's ServiceAccount + RBAC applied for one release; cluster-scoped objects removed afterwards."""

    def __init__(self, cp: ControlPlane, namespace: str, sets: list[str]) -> None:
        self.cp = cp
        self.namespace = namespace
        self.release = f"rb-{secrets.token_hex(3)}"
        docs = render(release=self.release, namespace=namespace, sets=sets)
        self.objects = [d for d in docs if d["kind"] in RBAC_OBJECTS]
        self.sa = next(d for d in self.objects if d["kind"] == "ServiceAccount")["metadata"]["name"]
        self.args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0][
            "args"]

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.sa}"

    def apply(self) -> None:
        # kopf's peering CRDs, as `helm install` applies them from the chart's crds/ (idempotent).
        self.cp.kubectl("apply", "--server-side", "--field-manager=rbac-test", "-f", str(PEERING_CRDS))
        self.cp.kubectl("apply", "--server-side", "--field-manager=rbac-test", "-f", "-",
                        input="\n---\n".join(json.dumps(o) for o in self.objects))

    def remove(self) -> None:
        for obj in self.objects:
            if obj["kind"].startswith("Cluster"):
                self.cp.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], "--ignore-not-found",
                                "--wait=false")

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig holding a real bound token of the chart's ServiceAccount (TokenRequest API)."""
        token = self.cp.kubectl("create", "token", self.sa, "-n", self.namespace, "--duration=1h").stdout.strip()
        return write_kubeconfig(path, server=self.cp.server, ca_pem=self.cp.ca_path.read_bytes(), user=self.sa,
                                token=token)

    def allowed(self, checks: list[tuple[str, str, str, str]]) -> list[bool]:
        """Many (verb, group, resource, namespace) questions in one round trip: a List of SubjectAccessReviews,
        asked about the ServiceAccount's user and groups exactly as the API server authenticates it."""
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"]
        reviews = [{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                    "spec": {"user": self.user, "groups": groups,
                             "resourceAttributes": {"verb": v, "group": g, "resource": r, "namespace": ns}}}
                   for v, g, r, ns in checks]
        text = self.cp.kubectl("create", "-f", "-", "-o", "json",
                               input=json.dumps({"apiVersion": "v1", "kind": "List", "items": reviews})).stdout
        answers, decoder, pos = [], json.JSONDecoder(), 0
        while pos < len(text.rstrip()):  # kubectl prints one JSON document per created object
            obj, end = decoder.raw_decode(text, pos)
            answers.extend(obj.get("items", [obj]))
            pos = end + len(text[end:]) - len(text[end:].lstrip())
        assert len(answers) == len(checks)
        return [bool(a["status"].get("allowed")) for a in answers]

    def can_i(self, verb: str, resource: str, namespace: str | None = None, subresource: str = "") -> bool:
        scope = ["-n", namespace] if namespace else ["--all-namespaces"]
        if subresource:
            scope.append(f"--subresource={subresource}")
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"]
        proc = self.cp.kubectl("auth", "can-i", verb, resource, *scope, f"--as={self.user}",
                               *(f"--as-group={g}" for g in groups), check=False)
        answer = proc.stdout.strip()
        assert answer in ("yes", "no"), proc.stderr
        return answer == "yes"


@pytest.fixture
def env(control_plane: ControlPlane, crossplane_crds: list[str], project_crds: list[str],
        namespace: str) -> Iterator[Env]:
    e = Env(control_plane, namespace)
    try:
        yield e
    finally:
        e.stop()


def _installed(cp: ControlPlane, namespace: str, sets: list[str]) -> Install:
    install = Install(cp, namespace, sets)
    install.apply()
    return install


def _run_as_service_account(env: Env, install: Install, tmp_path: Path, namespace_arg: str | None) -> None:
    """The operator, started as the e2e tests start it but authenticated as the chart's ServiceAccount."""
    kubeconfig = install.kubeconfig(tmp_path / "operator.kubeconfig")
    # The kubeconfig the operator gets authenticates as the ServiceAccount, and is refused what RBAC refuses.
    whoami = env.cp.kubectl("auth", "whoami", "-o", "json", f"--kubeconfig={kubeconfig}")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == install.user
    denied = env.cp.kubectl("get", "secrets", "-n", env.ns, f"--kubeconfig={kubeconfig}", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr
    env.start_simulator()  # the simulator plays Crossplane: it keeps the admin credentials
    env.operator = processes.operator(kubeconfig, namespace_arg).start()
    processes.wait_live(env.operator.liveness_url)  # type: ignore[attr-defined]
    cr = load_example("two-region.yaml")
    env.apply(cr)
    ready = env.wait_condition(cr["metadata"]["name"], "Ready", "True", timeout=240)
    assert ready["reason"] == "AllResourcesReady"
    assert len(env.mrs(cr["metadata"]["name"])) > 100
    # Events are written by the ServiceAccount too (kopf only logs a warning when it may not).
    events = env.cp.kubectl_json("get", "events", "-n", env.ns,
                                 "--field-selector", f"involvedObject.name={cr['metadata']['name']}")["items"]
    assert "Ready" in {e["reason"] for e in events}, [e["reason"] for e in events]
    assert env.operator is not None
    denied = [line for line in env.operator.logs(tail=100000).splitlines()
              if FORBIDDEN_LOG.search(line) and not NOT_RBAC.search(line)]
    assert not denied, "the operator hit RBAC denials:\n" + "\n".join(denied[:20])


def test_cluster_wide_role_runs_the_operator_to_ready(control_plane: ControlPlane, env: Env, tmp_path: Path) -> None:
    install = _installed(control_plane, env.ns, [])
    try:
        assert "--all-namespaces" in install.args
        _run_as_service_account(env, install, tmp_path, None)  # --all-namespaces, as the chart runs it
    finally:
        env.stop()
        install.remove()


def test_namespaced_roles_run_the_operator_to_ready(control_plane: ControlPlane, env: Env, tmp_path: Path) -> None:
    install = _installed(control_plane, env.ns, [f"watchNamespaces[0]={env.ns}"])
    try:
        assert f"--namespace={env.ns}" in install.args
        _run_as_service_account(env, install, tmp_path, env.ns)
    finally:
        env.stop()
        install.remove()


def test_cluster_wide_service_account_cannot_do_more(control_plane: ControlPlane, crossplane_crds: list[str],
                                                     project_crds: list[str], namespace: str) -> None:
    install = _installed(control_plane, namespace, [])
    try:
        can = install.can_i
        # What it needs: every verb on every rendered kind (one batch of SubjectAccessReviews).
        checks = [(verb, k.group, k.plural, namespace) for k in KINDS.values()
                  for verb in ("get", "list", "watch", "create", "patch", "update", "delete")]
        refused = [c for c, ok in zip(checks, install.allowed(checks), strict=True) if not ok]
        assert not refused, refused
        # ... and nothing beyond them on the provider's other namespaced kinds (deletecollection included).
        others = [(verb, g, r, namespace) for g, r in _other_provider_kinds()
                  for verb in ("get", "create", "patch", "delete", "deletecollection")]
        granted = [c for c, ok in zip(others, install.allowed(others), strict=True) if ok]
        assert not granted, granted
        assert can("patch", "regionaldeployments.platform.regional.io", namespace)
        assert can("patch", "regionaldeployments.platform.regional.io", namespace, "status")
        assert can("create", "events", namespace) and can("create", "events.events.k8s.io", namespace)
        assert can("watch", "customresourcedefinitions.apiextensions.k8s.io")
        # What it must not.
        assert not can("get", "secrets", namespace) and not can("list", "secrets")
        assert not can("create", "zones.route53.aws.m.upbound.io", namespace)
        assert not can("create", "secrets.secretsmanager.aws.m.upbound.io", namespace)
        assert not can("create", "vpcs.ec2.aws.upbound.io")  # legacy cluster-scoped kinds are not ours
        assert not can("create", "policies.iam.aws.m.upbound.io", namespace)  # a kind not rendered
        assert not can("create", "clusterproviderconfigs.aws.m.upbound.io")
        assert not can("create", "managedresourceactivationpolicies.apiextensions.crossplane.io")
        assert not can("create", "pods", namespace) and not can("create", "deployments.apps", namespace)
        assert not can("list", "namespaces"), "--all-namespaces never reads namespaces"
        assert not can("delete", "regionaldeployments.platform.regional.io", namespace)
        assert not can("create", "regionaldeployments.platform.regional.io", namespace)
        assert not can("create", "customresourcedefinitions.apiextensions.k8s.io")
        assert not can("patch", "clusterkopfpeerings.kopf.dev"), "standalone: no peering"
        assert not can("create", "serviceaccounts", namespace, "token")
        assert not can("create", "clusterrolebindings.rbac.authorization.k8s.io")
    finally:
        install.remove()


def test_namespaced_service_account_is_confined_to_its_namespaces(control_plane: ControlPlane,
                                                                   crossplane_crds: list[str],
                                                                   project_crds: list[str], namespace: str) -> None:
    cp = control_plane
    other = f"{namespace}-b"
    cp.kubectl("create", "namespace", other)
    install = _installed(cp, namespace, [f"watchNamespaces[0]={namespace}", "replicas=2"])
    try:
        can = install.can_i
        assert can("list", "vpcs.ec2.aws.m.upbound.io", namespace)
        assert can("create", "vpcs.ec2.aws.m.upbound.io", namespace)
        assert not can("list", "vpcs.ec2.aws.m.upbound.io", other)
        assert not can("list", "vpcs.ec2.aws.m.upbound.io")  # not cluster-wide either
        assert not can("list", "regionaldeployments.platform.regional.io", other)
        assert not can("create", "events", other)
        assert not can("get", "secrets", namespace)
        assert can("list", "namespaces") and not can("get", "namespaces")
        assert can("list", "customresourcedefinitions.apiextensions.k8s.io")
        # Peering (2 replicas) in namespaced mode: its own namespace's KopfPeering, never cluster-wide ones.
        assert can("patch", "kopfpeerings.kopf.dev", namespace)
        assert not can("patch", "kopfpeerings.kopf.dev", other)
        assert not can("patch", "clusterkopfpeerings.kopf.dev")
    finally:
        install.remove()
        cp.kubectl("delete", "namespace", other, "--wait=false", "--ignore-not-found")


def test_rendered_rbac_matches_the_api_servers_view(control_plane: ControlPlane, crossplane_crds: list[str],
                                                    project_crds: list[str], namespace: str) -> None:
    """Every (group, resource) granted exists in the API server: no typo grants nothing while the test passes."""
    install = _installed(control_plane, namespace, [])
    try:
        served = _served_resources(control_plane)
        for obj in install.objects:
            for rule in obj.get("rules", []):
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        base = resource.split("/")[0]
                        assert (group, base) in served, f"{base}.{group} is not served by the API server"
    finally:
        install.remove()


def _other_provider_kinds() -> list[tuple[str, str]]:
    """(group, plural) of every namespaced provider-aws kind in ../shared the renderer does not emit."""
    ours = {(k.group, k.plural) for k in KINDS.values()}
    found = []
    for directory in crossplane_crd_dirs():
        for path in directory.glob("*.aws.m.upbound.io_*.yaml"):
            group, _, plural = path.stem.partition("_")
            if (group, plural) not in ours:
                found.append((group, plural))
    assert ("route53.aws.m.upbound.io", "zones") in found and len(found) > 20
    return sorted(found)


def _served_resources(cp: ControlPlane) -> set[tuple[str, str]]:
    out = cp.kubectl("api-resources", "-o", "name").stdout.split()
    served = set()
    for name in out:
        plural, _, group = name.partition(".")
        served.add((group, plural))
    return served


def test_the_denial_filter_keeps_rbac_refusals_and_drops_terminating_namespaces() -> None:
    """The log check must still catch an RBAC refusal; only the NamespaceTerminating 403 is not one."""
    rbac = ('events is forbidden: User "system:serviceaccount:ns:regional-operator" cannot create resource '
            '"events" in API group "" in the namespace "ns"')
    terminating = ('events "kopf-event-" is forbidden: unable to create new content in namespace ns because it is '
                   "being terminated ... 'reason': 'NamespaceTerminating'")
    assert FORBIDDEN_LOG.search(rbac) and not NOT_RBAC.search(rbac)
    assert FORBIDDEN_LOG.search(terminating) and NOT_RBAC.search(terminating)

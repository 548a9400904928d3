"""Issue 13 (tenancy: which account and credentials), on a real API server: the chart's ValidatingAdmissionPolicy
maps namespaces to the provider configs and AWS accounts their RegionalDeployments may use.

The policy is rendered from the chart with the real helm binary (values as an administrator writes them) and
applied; RegionalDeployments are then created (server-side dry run, which admission policies see like a write)
in a namespace granted by name, one granted by label, one restricted to a named ProviderConfig, and one with no
grant at all (the safe default: a namespaced ProviderConfig, no ClusterProviderConfig, no account).
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.controlplane import ControlPlane
from tests.cluster.test_chart import CHART, helm
from tests.cluster.test_crd_admission import CEL_FAILURES, TWO_REGION, dry_run
from tests.unit.test_crd_schema import example

pytestmark = pytest.mark.cluster

ACCOUNT_A = "123456789012"  # the example's account
ACCOUNT_B = "210987654321"
TEST_LABEL = "regional-operator.test/tenancy"


@dataclass(frozen=True)
class Tenancy:
    granted: str  # by name: ACCOUNT_A, ClusterProviderConfig default
    labelled: str  # by namespace label: ACCOUNT_B
    restricted: str  # by name: ACCOUNT_A, only the ProviderConfig aws-payments
    plain: str  # no grant


def policy_documents(values: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "tenancy-values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    out = helm("template", "tp", str(CHART), "-f", str(path), "--show-only", "templates/tenancy-policy.yaml").stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _deployment(ns: str, *, kind: str, name: str, account: str = ACCOUNT_A) -> dict[str, Any]:
    cr = copy.deepcopy(example(TWO_REGION))
    cr["metadata"] = {"name": f"t-{secrets.token_hex(3)}", "namespace": ns}
    cr["spec"]["providerConfigRef"] = {"kind": kind, "name": name}
    cr["spec"]["awsAccountId"] = account
    return cr


@pytest.fixture(scope="module")
def tenancy(control_plane: ControlPlane, project_crds: list[str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenancy]:
    assert "regionaldeployments.platform.regional.io" in project_crds
    cp = control_plane
    run = f"t{secrets.token_hex(3)}"  # a letter first: "123e45" would be a YAML number, not a label value
    t = Tenancy(*(f"tenancy-{run}-{role}" for role in ("granted", "labelled", "restricted", "plain")))
    for ns in (t.granted, t.labelled, t.restricted, t.plain):
        cp.kubectl("create", "namespace", ns)
        # only this module's namespaces are subject to the policy (the API server is shared by the session)
        cp.kubectl("label", "namespace", ns, f"{TEST_LABEL}={run}", "regional-operator.test/ephemeral=true")
    cp.kubectl("label", "namespace", t.labelled, "team=payments-eu")
    values = {
        "fullnameOverride": f"tenancy-{run}",
        "tenancy": {
            "enabled": True,
            "namespaceSelector": {"matchLabels": {TEST_LABEL: run}},
            "grants": [
                {"namespaces": [t.granted], "awsAccountIds": [ACCOUNT_A], "clusterProviderConfigs": ["default"]},
                {"namespaceSelector": {"matchLabels": {"team": "payments-eu"}}, "awsAccountIds": [ACCOUNT_B]},
                {"namespaces": [t.restricted], "awsAccountIds": [ACCOUNT_A], "providerConfigs": ["aws-payments"]},
            ],
        },
    }
    docs = policy_documents(values, tmp_path_factory.mktemp("tenancy"))
    assert [d["kind"] for d in docs] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    manifest = "\n---\n".join(yaml.safe_dump(d) for d in docs)
    cp.kubectl("apply", "-f", "-", input=manifest)
    try:
        _wait_enforced(cp, t)
        yield t
    finally:
        cp.kubectl("delete", "-f", "-", "--ignore-not-found", input=manifest, check=False)
        for ns in (t.granted, t.labelled, t.restricted, t.plain):
            cp.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)


def _wait_enforced(cp: ControlPlane, t: Tenancy, timeout: float = 60) -> None:
    """A new policy is enforced once the API server has compiled it and its informers have seen the binding."""
    deadline = time.monotonic() + timeout
    error = ""
    while time.monotonic() < deadline:
        stored, error = dry_run(cp, _deployment(t.plain, kind="ClusterProviderConfig", name="default"), t.plain)
        if stored is None and "spec.providerConfigRef" in error:
            return
        time.sleep(0.5)
    policy = cp.kubectl("get", "validatingadmissionpolicies", "-o", "yaml", check=False).stdout
    raise AssertionError(f"policy not enforced after {timeout}s; last answer: {error or 'admitted'}\n{policy}")


def refused(cp: ControlPlane, cr: dict[str, Any], *words: str) -> str:
    stored, error = dry_run(cp, cr, cr["metadata"]["namespace"])
    assert stored is None, f"admitted: {cr['spec']['providerConfigRef']} {cr['spec']['awsAccountId']}"
    for word in words:
        assert word in error, f"{word!r} not in: {error}"
    assert not any(failure in error for failure in CEL_FAILURES), error
    return error


def admitted(cp: ControlPlane, cr: dict[str, Any]) -> None:
    stored, error = dry_run(cp, cr, cr["metadata"]["namespace"])
    assert stored is not None, error


def test_without_a_grant_only_a_namespaced_provider_config_and_no_account(control_plane: ControlPlane,
                                                                         tenancy: Tenancy) -> None:
    ns = tenancy.plain
    refused(control_plane, _deployment(ns, kind="ClusterProviderConfig", name="default"),
            "spec.providerConfigRef", f"namespace {ns}", "ClusterProviderConfig default",
            "allowed ClusterProviderConfigs: none", "ProviderConfig in this namespace")
    # a namespaced ProviderConfig passes the provider-config rule; the account still needs a grant
    error = refused(control_plane, _deployment(ns, kind="ProviderConfig", name="aws"),
                    "spec.awsAccountId", f"namespace {ns}", ACCOUNT_A, "allowed accounts: none")
    assert "spec.providerConfigRef" not in error, error


def test_a_namespace_granted_by_name_gets_exactly_its_grant(control_plane: ControlPlane, tenancy: Tenancy) -> None:
    ns = tenancy.granted
    admitted(control_plane, _deployment(ns, kind="ClusterProviderConfig", name="default"))
    admitted(control_plane, _deployment(ns, kind="ProviderConfig", name="anything-in-this-namespace"))
    refused(control_plane, _deployment(ns, kind="ClusterProviderConfig", name="production-root"),
            "spec.providerConfigRef", f"namespace {ns}", "production-root", "allowed ClusterProviderConfigs: default")
    refused(control_plane, _deployment(ns, kind="ClusterProviderConfig", name="default", account=ACCOUNT_B),
            "spec.awsAccountId", f"namespace {ns}", ACCOUNT_B, f"allowed accounts: {ACCOUNT_A}")


def test_a_namespace_granted_by_label(control_plane: ControlPlane, tenancy: Tenancy) -> None:
    ns = tenancy.labelled
    admitted(control_plane, _deployment(ns, kind="ProviderConfig", name="aws", account=ACCOUNT_B))
    refused(control_plane, _deployment(ns, kind="ProviderConfig", name="aws", account=ACCOUNT_A),
            "spec.awsAccountId", f"namespace {ns}", f"allowed accounts: {ACCOUNT_B}")
    refused(control_plane, _deployment(ns, kind="ClusterProviderConfig", name="default", account=ACCOUNT_B),
            "spec.providerConfigRef", "allowed ClusterProviderConfigs: none")


def test_a_grant_may_restrict_the_namespaced_provider_configs(control_plane: ControlPlane,
                                                             tenancy: Tenancy) -> None:
    ns = tenancy.restricted
    admitted(control_plane, _deployment(ns, kind="ProviderConfig", name="aws-payments"))
    refused(control_plane, _deployment(ns, kind="ProviderConfig", name="aws-other"),
            "spec.providerConfigRef", f"namespace {ns}", "ProviderConfig aws-other",
            "allowed ProviderConfigs: aws-payments")


def test_a_revoked_grant_blocks_spec_edits_but_not_metadata_edits(control_plane: ControlPlane,
                                                                  tenancy: Tenancy) -> None:
    """An object stored under a grant that is then revoked (the namespace loses its label): a metadata-only
    change (what the operator's finalizer handling and `kubectl label` do) is still admitted, so deletion never
    hangs on the policy; the next spec edit is refused."""
    cp, ns = control_plane, tenancy.labelled
    cr = _deployment(ns, kind="ProviderConfig", name="aws", account=ACCOUNT_B)
    name = cr["metadata"]["name"]
    cp.kubectl("apply", "--server-side", "--field-manager=tenancy-test", "-f", "-", input=json.dumps(cr))
    cp.kubectl("label", "namespace", ns, "team-")
    try:
        edited = copy.deepcopy(cr)
        edited["spec"]["costCenter"] = "cc-other"
        deadline = time.monotonic() + 30
        while True:  # the policy reads the namespace's labels from the API server's cache: it may lag a moment
            proc = cp.kubectl("apply", "--server-side", "--field-manager=tenancy-test", "-f", "-",
                              input=json.dumps(edited), check=False)
            if proc.returncode != 0 or time.monotonic() > deadline:
                break
            edited["spec"]["costCenter"] = f"cc-{secrets.token_hex(2)}"
            time.sleep(0.5)
        assert proc.returncode != 0, "a spec edit after the grant was revoked was admitted"
        assert "spec.awsAccountId" in proc.stderr and "allowed accounts: none" in proc.stderr, proc.stderr
        cp.kubectl("label", "rd", name, "-n", ns, "touched=yes")  # check=True: admitted
        stored = cp.kubectl_json("get", "rd", name, "-n", ns)
        assert stored["metadata"]["labels"]["touched"] == "yes"
    finally:
        cp.kubectl("label", "namespace", ns, "team=payments-eu", "--overwrite")
        cp.kubectl("delete", "rd", name, "-n", ns, "--wait=false", "--ignore-not-found")

"""The real-provider tier's own logic, without the provider (these run in `make test`): the ProviderConfig covers
every service we render, outcomes and messages are classified as documented, and the reference check compares
what it should."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

from regional_operator.render.kinds import KINDS

from tests.provider import checks, outcomes, provider
from tests.provider.estate import ACCOUNT_ID, EXTERNAL_NAME, normalized, outcome
from tests.provider.test_real_provider import _arn_type

# Crossplane group prefix -> Terraform service-package name, where they differ (names/consts_gen.go).
TERRAFORM_PACKAGE = {"cloudwatchlogs": "logs"}


def test_provider_config_sends_every_rendered_service_to_the_emulator() -> None:
    services = {TERRAFORM_PACKAGE.get(k.service, k.service) for k in KINDS.values()}
    missing = services - set(provider.ENDPOINT_SERVICES)
    assert not missing, f"these services would be called at real AWS: {missing}"
    spec = provider.cluster_provider_config("http://127.0.0.1:1")["spec"]
    assert spec["endpoint"]["url"] == {"type": "Static", "static": "http://127.0.0.1:1"}
    assert "sts" in spec["endpoint"]["services"]
    assert spec["skip_credentials_validation"] is True and ACCOUNT_ID == "000000000000"


def test_provider_runs_without_webhooks_on_loopback_ports() -> None:
    argv = provider.process(provider.REPO / "nonexistent", provider.REPO / "kubeconfig").argv
    assert "--certs-dir=" in argv
    binds = [a for a in argv if a.startswith(("--metrics-bind-address=", "--health-probe-bind-addr="))]
    assert len(binds) == 2 and all("=127.0.0.1:" in a for a in binds)


def test_provider_crds_follow_the_renderer_kind_table() -> None:
    names = provider.crd_file_names()
    assert len(names) == len(set(names)) == len(KINDS) + len(provider.PROVIDER_CONFIG_CRDS)
    # Kinds added after the tier was written (issues 11 and 13) are installed without touching the tier.
    for name in ("ec2.aws.m.upbound.io_flowlogs.yaml", "ec2.aws.m.upbound.io_vpcendpoints.yaml",
                 "ec2.aws.m.upbound.io_vpcendpointroutetableassociations.yaml",
                 "rds.aws.m.upbound.io_parametergroups.yaml",
                 "wafv2.aws.m.upbound.io_webaclloggingconfigurations.yaml"):
        assert name in names


def test_provider_crds_exist_in_the_pinned_module() -> None:
    # The module alone (its source and CRDs, ~38 MB, seconds from the Go module proxy; not its dependencies) is
    # fetched when the cache lacks it, so a fresh machine checks the same thing as one that built the provider.
    go_mod = (provider.TOOLS / "go.mod").read_text()
    version = re.search(rf"^require {re.escape(provider.MODULE)} (\S+)$", go_mod, re.MULTILINE)
    assert version, f"{provider.TOOLS}/go.mod does not require {provider.MODULE}"
    module = f"{provider.MODULE}@{version.group(1)}"
    if not module_dir(module).is_dir():
        subprocess.run(["go", "mod", "download", module], cwd=provider.TOOLS, check=True, timeout=600)
    crds = module_dir(module) / "package" / "crds"
    assert crds.is_dir(), f"{module} has no package/crds ({crds})"
    missing = [name for name in provider.crd_file_names() if not (crds / name).is_file()]
    assert not missing, f"kinds we render that provider-aws v2.5.0 has no CRD for: {missing}"


def module_dir(module: str) -> Path:
    """Where the Go module cache unpacks `module` (GOMODCACHE, default ~/go/pkg/mod)."""
    cache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    return cache / module


def _mr(synced: str | None, ready: str | None, message: str = "") -> dict:
    conds = [{"type": t, "status": s, "message": message} for t, s in (("Synced", synced), ("Ready", ready)) if s]
    return {"status": {"conditions": conds}}


def test_outcomes_are_classified_by_synced_then_ready() -> None:
    assert outcome(_mr("True", "True")) == "Ready"
    assert outcome(_mr("True", "False")) == "Synced only"
    assert outcome(_mr("False", "True")) == "refused"
    assert outcome(_mr(None, None)) == "unreconciled"


def test_messages_are_normalized_for_comparison_across_runs() -> None:
    text = ("operation error EC2: CreateRoute, https response error StatusCode: 400, RequestID: "
            "7a62c49f-347e-4fc4-9331-6e8eca1a2b3c, api error InvalidVpcID.NotFound: vpc-0a1b2c3d4e5f67890 in "
            "test-1a2b3c4d")
    assert normalized(text) == ("operation error EC2: CreateRoute, https response error StatusCode: 400, RequestID: "
                                "<uuid>, api error InvalidVpcID.NotFound: vpc-<id> in <namespace>")


def test_gaps_name_rendered_kinds_and_default_to_ready() -> None:
    assert set(outcomes.GAPS) <= set(KINDS)
    want = outcomes.expected_outcomes({"ec2/VPC", "dynamodb/Table"}, {"ec2/VPC": 2, "dynamodb/Table": 2})
    assert want == {"ec2/VPC": {"Ready": 2}, "dynamodb/Table": {outcomes.ADMISSION_REFUSED: 2}}


def test_reference_check_compares_the_field_with_what_the_rule_copies() -> None:
    vpc = {"apiVersion": "ec2.aws.m.upbound.io/v1beta1", "kind": "VPC",
           "metadata": {"name": "vpc-a", "annotations": {EXTERNAL_NAME: "vpc-123"}}, "spec": {"forProvider": {}}}
    good = {"apiVersion": "ec2.aws.m.upbound.io/v1beta1", "kind": "Subnet", "metadata": {"name": "s1"},
            "spec": {"forProvider": {"vpcIdRef": {"name": "vpc-a"}, "vpcId": "vpc-123"}}}
    bad = {**good, "metadata": {"name": "s2"}, "spec": {"forProvider": {"vpcIdRef": {"name": "vpc-a"},
                                                                        "vpcId": "vpc-999"}}}
    found = {r.mr: (r.got, r.want) for r in checks.resolutions([vpc, good, bad]) if r.field == "vpcId"}
    assert found == {"Subnet/s1": ("vpc-123", "vpc-123"), "Subnet/s2": ("vpc-999", "vpc-123")}


def test_reference_check_walks_lists_of_refs() -> None:
    sg = {"apiVersion": "ec2.aws.m.upbound.io/v1beta1", "kind": "SecurityGroup",
          "metadata": {"name": "sg", "annotations": {EXTERNAL_NAME: "sg-1"}}, "spec": {"forProvider": {}}}
    fn = {"apiVersion": "lambda.aws.m.upbound.io/v1beta1", "kind": "Function", "metadata": {"name": "f"},
          "spec": {"forProvider": {"vpcConfig": {"securityGroupIdRefs": [{"name": "sg"}],
                                                 "securityGroupIds": ["sg-1"]}}}}
    found = [r for r in checks.resolutions([sg, fn]) if r.mr == "Function/f"]
    assert [(r.field, r.got, r.want) for r in found] == [("vpcConfig.securityGroupIds[]", ["sg-1"], ["sg-1"])]


def test_duplicates_are_counted_per_resource_type_and_name() -> None:
    arns = ["arn:aws:ec2:us-east-1:000000000000:vpc/vpc-1", "arn:aws:ec2:us-east-1:000000000000:vpc/vpc-2",
            "arn:aws:sqs:us-east-1:000000000000:q1", "arn:aws:iam::000000000000:role/r1"]
    kinds = Counter(_arn_type(a) for a in arns)
    assert kinds == {"ec2:us-east-1:vpc": 2, "sqs:us-east-1:q1": 1, "iam::role": 1}

"""The RegionalDeployment CRD on a real API server: accepted and Established, the examples admitted with the
model's defaults, every `layer: admission` file of tests/data/invalid refused with an error naming its field,
every `layer: renderer` file admitted and then refused by the renderer, status written by the operator kept
whole, printer columns and `kubectl explain` working.

Objects go to `kubectl apply --dry-run=server` (full admission: defaulting, schema, CEL, strict field validation;
nothing stored) in a namespace of this module, except the status round trip, which needs a stored object.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from regional_operator.defaults import load_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.reconcile.conditions import Condition, merge_conditions
from regional_operator.render import render
from regional_operator.render.context import Pending
from regional_operator.spec import parse_spec

from devtools.controlplane import ControlPlane, wait_for
from devtools.controlplane.namespaces import ephemeral_namespace
from tests.unit.test_bad_input import InvalidCase, cases, field_matches
from tests.unit.test_crd_schema import EXAMPLES, cel_rules, example, ten_regions

pytestmark = pytest.mark.cluster

CRD_NAME = "regionaldeployments.platform.regional.io"
TWO_REGION = next(p for p in EXAMPLES if p.name == "two-region.yaml")
# What a CEL rule that crashed (rather than returned false) or was never compiled would print.
CEL_FAILURES = ("evaluation error", "no such key", "no such overload", "compilation failed", "cost limit",
                "cost budget")


@pytest.fixture(scope="module")
def crd(control_plane: ControlPlane, project_crds: list[str]) -> str:
    assert CRD_NAME in project_crds
    return CRD_NAME


@pytest.fixture(scope="module")
def ns(control_plane: ControlPlane, crd: str) -> Iterator[str]:
    with ephemeral_namespace(control_plane, "rd-admission") as name:
        yield name


def dry_run(cp: ControlPlane, obj: dict[str, Any], ns: str) -> tuple[dict[str, Any] | None, str]:
    """Server-side dry-run apply: (the object as the server would store it, "") or (None, kubectl's stderr)."""
    body = copy.deepcopy(obj)
    body["metadata"]["namespace"] = ns
    proc = cp.kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(body), check=False)
    if proc.returncode != 0:
        return None, proc.stderr
    return json.loads(proc.stdout), ""


def test_crd_is_established_with_every_rule(control_plane: ControlPlane, crd: str) -> None:
    stored = control_plane.kubectl_json("get", "crd", crd)
    conditions = {c["type"]: c["status"] for c in stored["status"]["conditions"]}
    assert conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True", conditions
    assert "NonStructuralSchema" not in conditions
    served = stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    def count(node: Any) -> int:
        if isinstance(node, dict):
            return len(node.get("x-kubernetes-validations") or []) + sum(count(v) for v in node.values())
        if isinstance(node, list):
            return sum(count(v) for v in node)
        return 0

    assert count(served) == len(list(cel_rules()))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_admitted_with_the_model_defaults(control_plane: ControlPlane, ns: str, path: Path) -> None:
    cr = example(path)
    stored, error = dry_run(control_plane, cr, ns)
    assert stored is not None, error
    # The API server's defaults are the model's: what it stores is exactly what parse_spec makes of the example.
    assert stored["spec"] == parse_spec(cr["spec"]).model_dump(by_alias=True, exclude_none=True)
    render(stored, load_defaults())


def test_ten_regions_are_admitted(control_plane: ControlPlane, ns: str) -> None:
    stored, error = dry_run(control_plane, ten_regions(), ns)
    assert stored is not None, error
    assert len(stored["spec"]["regions"]) == 10


@pytest.mark.parametrize("case", cases("admission"))
def test_admission_layer_input_is_refused_naming_the_field(control_plane: ControlPlane, ns: str,
                                                          case: InvalidCase) -> None:
    stored, error = dry_run(control_plane, case.load(), ns)
    assert stored is None, f"{case.id} was admitted ({case.why})"
    assert case.field in error, f"{case.field!r} not in: {error}"
    assert case.words.lower() in error.lower(), f"{case.words!r} not in: {error}"
    assert not any(word in error for word in CEL_FAILURES), error


@pytest.mark.parametrize("case", cases("renderer"))
def test_renderer_layer_input_is_admitted_then_refused_by_the_renderer(control_plane: ControlPlane, ns: str,
                                                                       case: InvalidCase) -> None:
    stored, error = dry_run(control_plane, case.load(), ns)
    assert stored is not None, f"{case.id} should pass admission ({case.why}): {error}"
    with pytest.raises(SpecValidationError) as refused:
        render(stored, load_defaults())  # the object as the operator would receive it, defaults applied
    assert field_matches(refused.value.field, case.field), refused.value
    assert case.words.lower() in refused.value.rule.lower()


@pytest.mark.parametrize("cidr", ["198.18.0.0/16", "100.64.0.0/16", "172.32.0.0/16", "192.169.0.0/16"])
def test_vpc_cidr_outside_rfc1918_is_refused(control_plane: ControlPlane, ns: str, cidr: str) -> None:
    cr = example(TWO_REGION)
    cr["spec"]["regions"][1]["vpcCidr"] = cidr
    stored, error = dry_run(control_plane, cr, ns)
    assert stored is None and "spec.regions[1].vpcCidr" in error and "RFC 1918" in error, error


def test_metadata_name_is_at_most_40_characters(control_plane: ControlPlane, ns: str) -> None:
    cr = example(TWO_REGION)
    cr["metadata"]["name"] = "n" * 40
    stored, error = dry_run(control_plane, cr, ns)
    assert stored is not None, error
    cr["metadata"]["name"] = "n" * 41
    stored, error = dry_run(control_plane, cr, ns)
    assert stored is None and "metadata.name" in error and "40 characters" in error, error


def test_explain_shows_the_descriptions(control_plane: ControlPlane, crd: str) -> None:
    def explain() -> str:
        proc = control_plane.kubectl("explain", "regionaldeployments.spec.regions", check=False)
        return " ".join(proc.stdout.split()) if proc.returncode == 0 else ""

    text = wait_for(explain, timeout=60, what="the CRD's OpenAPI schema to be published")
    assert "The AWS regions, 1 to 10, each named once" in text
    for field, words in (("vpcCidr", "IPv4 CIDR of the region's VPC"), ("primary", "Default: false"),
                         ("availabilityZones", "Exactly 3 distinct availability zones"),
                         ("wafBlockedCountries", "ISO 3166-1 alpha-2")):
        assert field in text and words in text, (field, words)


def operator_status(generation: int) -> dict[str, Any]:
    """A status shaped like the one the operator writes (reconcile/reconciler.py), built with its own helpers."""
    conds = [Condition("Ready", True, "AllResourcesReady", "200/200 managed resources ready"),
             Condition("Reconciling", False, "Converged"), Condition("Stalled", False, "NoErrors"),
             Condition("RegionReady.us-east-1", True, "RegionReady", "every managed resource in us-east-1 is ready"),
             Condition("RegionReady.us-east-2", None, "Pending", "Function/x waits for y")]
    return {
        "observedGeneration": generation,
        "conditions": merge_conditions([], conds, generation, timestamp="2026-11-25T08:00:00Z"),
        "resources": {"ready": 198, "total": 200},
        "pending": [str(Pending("VPCPeeringConnectionAccepter", "pcx-accept-use1-prod-use2",
                                "VPCPeeringConnection/pcx-prod-use2 status.atProvider.id"))],
        "outputs": {"us-east-1": {"vpcId": "vpc-0123456789abcdef0", "albDnsName": "alb-prod-use1-1.elb.amazonaws.com",
                                  "databaseEndpoint": "payments-db-prod-use1.abc.us-east-1.rds.amazonaws.com",
                                  "uploadsBucketArn": "arn:aws:s3:::uploads-prod-use1-0123abcd",
                                  "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/payments-prod-use1"},
                    "us-east-2": {"peeringConnectionId": "pcx-0123456789abcdef0"}},
        "alarmThresholds": {"us-east-1": {"rds-cpu-prod-use1": 80.0, "alb-latency-prod-use1": 0.5},
                            "us-east-2": {"rds-cpu-prod-use2": 42.0}},
        "activePaymentsRegion": "us-east-1",
        "defaultsVersion": "2026-11-25.1",
    }


def test_operator_status_is_stored_whole_and_printed(control_plane: ControlPlane, ns: str) -> None:
    cr = example(TWO_REGION)
    cr["metadata"]["namespace"] = ns
    name = cr["metadata"]["name"]
    created = json.loads(control_plane.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(cr)).stdout)
    try:
        status = operator_status(created["metadata"]["generation"])
        control_plane.kubectl("patch", "rd", name, "-n", ns, "--subresource=status", "--type=merge",
                              "-p", json.dumps({"status": status}))
        stored = control_plane.kubectl_json("get", "rd", name, "-n", ns)
        assert stored["status"] == status  # nothing pruned: every key the operator writes is in the schema
        table = control_plane.kubectl("get", "rd", name, "-n", ns, "-o", "wide").stdout.split("\n")
        assert table[0].split() == ["NAME", "READY", "PRIMARY", "RESOURCES", "TOTAL", "PAYMENTS", "REASON", "AGE"]
        assert table[1].split()[:7] == [name, "True", "us-east-1", "198", "200", "us-east-1", "AllResourcesReady"]
        # Why the CRD has no Regions column: server-side printing keeps only the first match of a JSONPath...
        server = _printed_column(control_plane, ns, name, ".spec.regions[*].name")
        assert server == "us-east-1"
        # ...while kubectl's own custom-columns (client side) prints them all, as the CRD's description says.
        client = control_plane.kubectl("get", "rd", name, "-n", ns, "--no-headers",
                                       "-o", "custom-columns=REGIONS:.spec.regions[*].name").stdout.strip()
        assert client == "us-east-1,us-east-2"
        by_category = control_plane.kubectl("get", "regional", "-n", ns, "-o", "name").stdout.split()
        assert f"regionaldeployment.platform.regional.io/{name}" in by_category
    finally:
        control_plane.kubectl("delete", "rd", name, "-n", ns, "--wait=false", "--ignore-not-found")


def _printed_column(cp: ControlPlane, ns: str, name: str, json_path: str) -> str:
    """What server-side printing makes of `json_path`: a throwaway CRD whose only column is that path."""
    crd = _column_probe_crd(json_path)
    cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(crd))
    try:
        cp.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")
        obj = {"apiVersion": "probe.regional.io/v1", "kind": "ColumnProbe", "metadata": {"name": name, "namespace": ns},
               "spec": {"regions": [{"name": "us-east-1"}, {"name": "us-east-2"}]}}
        cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
        rows = cp.kubectl("get", "columnprobes", name, "-n", ns, "--no-headers").stdout.split()
        return rows[1]
    finally:
        cp.kubectl("delete", "crd", crd["metadata"]["name"], "--wait=false", "--ignore-not-found")


def _column_probe_crd(json_path: str) -> dict[str, Any]:
    spec = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": "object", "properties": {"spec": spec}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "columnprobes.probe.regional.io"},
            "spec": {"group": "probe.regional.io", "scope": "Namespaced",
                     "names": {"plural": "columnprobes", "singular": "columnprobe", "kind": "ColumnProbe"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema},
                                   "additionalPrinterColumns": [{"name": "Value", "type": "string",
                                                                 "jsonPath": json_path}]}]}}

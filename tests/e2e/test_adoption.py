"""End-to-end, issue 16: an existing us-east-1 estate (seeded into the provider simulator) adopted in Observe,
reviewed with `regional-operator plan`, promoted to Manage, with us-east-2 wired to the adopted resources, then
the RegionalDeployment deleted: the adopted resources stay in the simulated cloud (and are listed in the Orphaned
event), us-east-2's are gone. Unknown identifiers: Stalled naming them, nothing created.

MR names come from the rendered objects' labels and the adopt annotation, never written out here."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from regional_operator import cli
from regional_operator.defaults import load_defaults
from regional_operator.render.adoption import ADOPTED_ANNOTATION
from regional_operator.render.context import RenderContext
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_spec

from tests.e2e.conftest import Env, load_example
from tests.e2e.test_live_edits import converged, region_of
from tests.unit.render.test_adoption import BUCKET, DATABASE, KEY_ARN, KEY_ID, LEDGER, SESSIONS, VPC, adopt_all

pytestmark = pytest.mark.cluster

ACCOUNT = "123456789012"
DB_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{DATABASE['identifier']}"
BUCKET_SETTINGS = ("BucketVersioning", "BucketServerSideEncryptionConfiguration", "BucketLifecycleConfiguration",
                   "BucketPublicAccessBlock", "BucketPolicy")


def adopted_cr(mode: str = "Observe") -> dict[str, Any]:
    cr = load_example("two-region.yaml")
    cr["spec"]["regions"][0]["adopt"] = adopt_all(mode)
    return cr


def estate(cr: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The us-east-1 estate as AWS reports it: what adopt_all() names, with settings that differ from ours."""
    ctx = RenderContext(parse_spec(cr["spec"]), load_defaults(), namespace="x", name="x", observed=Observed())
    r = ctx.region("us-east-1")
    subnets = {}
    for blocks, ids in ((r.public_subnets, VPC["publicSubnetIds"]), (r.private_subnets, VPC["privateSubnetIds"])):
        for i, subnet_id in enumerate(ids):
            subnets[subnet_id] = {"id": subnet_id, "cidrBlock": str(blocks[i]),
                                  "availabilityZone": r.settings.availability_zones[i], "vpcId": VPC["id"]}
    out: dict[str, dict[str, dict[str, Any]]] = {
        "ec2/VPC": {VPC["id"]: {"id": VPC["id"], "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{VPC['id']}",
                                "cidrBlock": str(r.vpc_cidr), "enableDnsHostnames": False,
                                "enableDnsSupport": True, "tags": {"Name": "legacy-vpc"}}},
        "ec2/Subnet": subnets,
        "ec2/RouteTable": {t: {"id": t, "vpcId": VPC["id"]}
                           for t in [VPC["publicRouteTableId"], *VPC["privateRouteTableIds"]]},
        "ec2/InternetGateway": {VPC["internetGatewayId"]: {"id": VPC["internetGatewayId"], "vpcId": VPC["id"]}},
        "ec2/NATGateway": {n: {"id": n} for n in VPC["natGatewayIds"]},
        "kms/Key": {KEY_ID: {"id": KEY_ID, "arn": KEY_ARN, "keyId": KEY_ID, "enableKeyRotation": False}},
        "rds/Instance": {DATABASE["resourceId"]: {
            "id": DATABASE["resourceId"], "resourceId": DATABASE["resourceId"], "identifier": DATABASE["identifier"],
            "arn": DB_ARN, "backupRetentionPeriod": 7, "multiAz": False,
            "address": f"{DATABASE['identifier']}.cabc.us-east-1.rds.amazonaws.com"}},
        "s3/Bucket": {BUCKET: {"id": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"}},
        "dynamodb/Table": {t: {"id": t, "arn": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{t}",
                               "streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}
                           for t in (SESSIONS, LEDGER)},
    }
    for kind in BUCKET_SETTINGS:
        out[f"s3/{kind}"] = {BUCKET: {"id": BUCKET}}
    out["s3/BucketVersioning"][BUCKET]["versioningConfiguration"] = {"status": "Enabled"}
    return out


def cloud(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"resources": [], "operations": []}


def adopted_mrs(env: Env, name: str) -> list[dict[str, Any]]:
    return [m for m in env.mrs(name) if ADOPTED_ANNOTATION in (m["metadata"].get("annotations") or {})]


def test_adopt_review_promote_grow_and_delete_keeps_the_estate(env: Env, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    cr = adopted_cr()
    name = cr["metadata"]["name"]
    seeded = estate(cr)
    (tmp_path / "estate.json").write_text(json.dumps(seeded), encoding="utf-8")
    out = tmp_path / "cloud.json"
    env.start_simulator(estate=tmp_path / "estate.json", cloud_out=out)
    env.start_operator()
    env.apply(cr)

    # 1. Observe: replication from the Observe-only bucket and tables waits for Manage (Stalled, named), the VPC's
    #    settings differ from ours (AdoptionDrift), and nothing of the estate was created, updated or deleted
    def blocked() -> dict[str, Any] | None:
        cond = env.condition(name, "Stalled") or {}
        text = cond.get("message", "")
        return cond if cond.get("reason") == "AdoptionBlocked" and "adopt.uploadsBucket" in text \
            and "adopt.sessionsTable" in text else None

    env.wait_for("Stalled AdoptionBlocked naming the bucket and the tables", blocked, timeout=240)
    drift = env.wait_condition(name, "AdoptionDrift", "True", timeout=120)
    assert "enableDnsHostnames" in drift["message"], drift
    adopted = adopted_mrs(env, name)
    assert adopted and all(m["spec"]["managementPolicies"] == ["Observe"] for m in adopted)
    estate_keys = {(kind, ext) for kind, by_name in seeded.items() for ext in by_name}
    assert not [op for op in cloud(out)["operations"] if (op[1], op[3]) in estate_keys]

    # 2. plan shows the drift, field by field
    env.cp.kubectl("get", "rd", name, "-n", env.ns)
    cr_file = tmp_path / "rd.json"
    cr_file.write_text(json.dumps({**cr, "metadata": {**cr["metadata"], "namespace": env.ns}}), encoding="utf-8")
    cli.main(["plan", str(cr_file), f"--kubeconfig={env.cp.kubeconfig_path}", f"--kubectl={env.cp.kubectl_path}"])
    printed = capsys.readouterr().out
    assert "in Manage these settings would change (AWS has -> Manage sets):" in printed
    assert "enableDnsHostnames: false -> true" in printed

    # 3. promote every component: us-east-2 is wired to the adopted resources
    env.apply(adopted_cr("Manage"))
    converged(env, name, timeout=300)
    mrs = env.mrs(name)
    east2 = [m for m in mrs if region_of(m) == "us-east-2"]
    replica = next(m for m in east2 if m["kind"] == "Instance")
    assert replica["spec"]["forProvider"]["replicateSourceDb"] == DB_ARN
    replication = next(m for m in mrs if m["kind"] == "BucketReplicationConfiguration")
    assert replication["metadata"]["annotations"]["crossplane.io/external-name"] == BUCKET
    tables = [m for m in mrs if m["kind"] == "Table"]
    assert {m["metadata"]["annotations"]["crossplane.io/external-name"] for m in tables} == {SESSIONS, LEDGER}
    assert all([rep["regionName"] for rep in m["spec"]["forProvider"]["replica"]] == ["us-east-2"] for m in tables)
    peering_routes = [m for m in mrs if m["kind"] == "Route" and region_of(m) == "us-east-1"
                      and m["metadata"]["labels"]["platform.regional.io/component"] == "peering"]
    assert sorted(m["spec"]["forProvider"]["routeTableId"] for m in peering_routes) == sorted(
        VPC["privateRouteTableIds"])
    # Manage updates what exists and adds settings it lacks (the replication configuration); it creates and
    # deletes nothing that was there
    assert not [op for op in cloud(out)["operations"]
                if op[0] in ("create", "delete") and (op[1], op[3]) in estate_keys]
    east2_names = {(m["kind"], m["metadata"]["name"]) for m in east2}
    adopted_names = {f"{m['kind']}/{m['metadata']['name']}" for m in adopted_mrs(env, name)}

    # 4. delete: the estate stays, us-east-2's resources are gone, the Orphaned event lists the adopted MRs
    env.cp.kubectl("delete", "regionaldeployments.platform.regional.io", name, "-n", env.ns, "--wait=false")
    env.wait_for("CR gone", lambda: env.get(name) is None, timeout=300)
    assert env.mrs(name) == []
    final = cloud(out)
    left = {tuple(k) for k in final["resources"]}
    assert estate_keys <= left
    created_east2 = {(op[1], op[3]) for op in final["operations"]
                     if op[0] == "create" and (op[1].split("/")[1], op[2]) in east2_names}
    assert created_east2 and not created_east2 & left
    events = env.cp.kubectl_json("get", "events", "-n", env.ns, "--field-selector",
                                 f"involvedObject.name={name}")["items"]
    orphaned = " ".join(e["message"] for e in events if e["reason"] == "Orphaned")
    assert all(a in orphaned for a in adopted_names), orphaned
    assert "(adopted, spec.regions[0].adopt." in orphaned


def test_unknown_identifier_is_stalled_and_nothing_is_created_for_it(env: Env, tmp_path: Path) -> None:
    cr = adopted_cr()
    name = cr["metadata"]["name"]
    seeded = estate(cr)
    del seeded["ec2/VPC"]  # the VPC id names nothing AWS has
    (tmp_path / "estate.json").write_text(json.dumps(seeded), encoding="utf-8")
    out = tmp_path / "cloud.json"
    env.start_simulator(estate=tmp_path / "estate.json", cloud_out=out)
    env.start_operator()
    env.apply(copy.deepcopy(cr))
    stalled = env.wait_condition(name, "Stalled", "True", timeout=240)

    def not_found() -> dict[str, Any] | None:
        cond = env.condition(name, "Stalled") or {}
        return cond if cond.get("reason") == "AdoptedResourceNotFound" else None

    stalled = env.wait_for("AdoptedResourceNotFound", not_found, timeout=120)
    assert VPC["id"] in stalled["message"] and "spec.regions[0].adopt.vpc.id" in stalled["message"], stalled
    assert "external resource does not exist" in stalled["message"]
    assert not [op for op in cloud(out)["operations"] if op[1] == "ec2/VPC" and op[3] == VPC["id"]]
    assert ("ec2/VPC", VPC["id"]) not in {tuple(k) for k in cloud(out)["resources"]}

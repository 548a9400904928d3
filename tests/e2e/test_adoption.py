"""End-to-end, issue 16: the migration from a single-region estate. An existing us-east-1 estate (network, data
stores and application tier, seeded into the provider simulator) adopted in Observe by a one-region
RegionalDeployment, reviewed with `regional-operator plan`, promoted to Manage, grown by us-east-2 wired to the
adopted resources, payments cut over to us-east-2, then the RegionalDeployment deleted: the adopted resources stay
in the simulated cloud (and are listed in the Orphaned event), us-east-2's are gone. Unknown identifiers: Stalled
naming them, nothing created.

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
from regional_operator.render.context import EXTERNAL_NAME, RenderContext
from regional_operator.render.names import PAYMENT_PARAMETERS
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_spec

from tests.e2e.conftest import Env, load_example
from tests.e2e.test_live_edits import converged, region_of
from tests.unit.render.test_adoption import BUCKET, DATABASE, KEY_ARN, KEY_ID, LEDGER, SESSIONS, VPC, adopt_all
from tests.unit.render.test_adoption_services import (
    CLUSTER,
    DLQ_URL,
    ESM_UUID,
    FUNCTION,
    HTTP_LISTENER,
    HTTPS_LISTENER,
    LB_ARN,
    PATH,
    QUEUE_URL,
    SERVICE,
    TOPIC_ARN,
    adopt_services,
)

pytestmark = pytest.mark.cluster

ACCOUNT = "123456789012"
DB_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{DATABASE['identifier']}"
LB_SUFFIX = LB_ARN.split(":loadbalancer/")[1]
BUCKET_SETTINGS = ("BucketVersioning", "BucketServerSideEncryptionConfiguration", "BucketLifecycleConfiguration",
                   "BucketPublicAccessBlock", "BucketPolicy")


def adopted_cr(mode: str = "Observe", *, regions: int = 2, active: str | None = None,
               observe: tuple[str, ...] = ()) -> dict[str, Any]:
    """The example, its us-east-1 region adopting the whole estate in `mode` (the components in `observe` stay in
    Observe); `regions=1` is the migration's start, the estate alone."""
    cr = load_example("two-region.yaml")
    cr["spec"]["regions"] = cr["spec"]["regions"][:regions]
    adopt = adopt_all(mode) | adopt_services(mode)
    for component in observe:
        adopt[component]["mode"] = "Observe"
    cr["spec"]["regions"][0]["adopt"] = adopt
    if active:
        cr["spec"]["payments"] = {"activeRegion": active}
    return cr


def sqs_arn(url: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{url.rsplit('/', 1)[1]}"


def application_tier() -> dict[str, dict[str, dict[str, Any]]]:
    """The estate's queues, processor, ALB, ECS, alarm topic and parameters as AWS reports them, keyed by the
    provider's external name of each kind (provider-external-names-v2.6.0.tsv)."""
    topic_name = TOPIC_ARN.rsplit(":", 1)[1]
    cluster_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{CLUSTER}"
    return {
        "sqs/Queue": {url: {"id": url, "url": url, "arn": sqs_arn(url)} for url in (QUEUE_URL, DLQ_URL)},
        "lambda/Function": {FUNCTION: {"id": FUNCTION, "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}",
                                       "timeout": 3}},
        "lambda/EventSourceMapping": {ESM_UUID: {"id": ESM_UUID, "uuid": ESM_UUID, "enabled": True,
                                                 "eventSourceArn": sqs_arn(QUEUE_URL)}},
        "cloudwatchlogs/Group": {f"/aws/lambda/{FUNCTION}": {"id": f"/aws/lambda/{FUNCTION}"}},
        "elbv2/LB": {LB_ARN: {"id": LB_ARN, "arn": LB_ARN, "arnSuffix": LB_SUFFIX,
                              "dnsName": "payments-legacy-1234.us-east-1.elb.amazonaws.com", "idleTimeout": 60}},
        "elbv2/LBListener": {arn: {"id": arn, "arn": arn} for arn in (HTTPS_LISTENER, HTTP_LISTENER)},
        "ecs/Cluster": {CLUSTER: {"id": cluster_arn, "arn": cluster_arn}},
        "ecs/Service": {SERVICE: {"id": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/{CLUSTER}/{SERVICE}",
                                  "desiredCount": 2}},
        "sns/Topic": {topic_name: {"id": TOPIC_ARN, "arn": TOPIC_ARN}},
        "sns/TopicPolicy": {TOPIC_ARN: {"id": TOPIC_ARN}},
        "ssm/Parameter": {f"{PATH}{key}": {"id": f"{PATH}{key}"} for key in PAYMENT_PARAMETERS},
    }


def estate(cr: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The us-east-1 estate as AWS reports it: what adopt_all() and adopt_services() name, with settings that
    differ from ours."""
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
        **application_tier(),
    }
    for kind in BUCKET_SETTINGS:
        out[f"s3/{kind}"] = {BUCKET: {"id": BUCKET}}
    out["s3/BucketVersioning"][BUCKET]["versioningConfiguration"] = {"status": "Enabled"}
    return out


def cloud(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"resources": [], "operations": []}


def adopted_mrs(env: Env, name: str) -> list[dict[str, Any]]:
    return [m for m in env.mrs(name) if ADOPTED_ANNOTATION in (m["metadata"].get("annotations") or {})]


def by_external_name(mrs: list[dict[str, Any]], kind: str, external: str) -> dict[str, Any]:
    return next(m for m in mrs if m["kind"] == kind
                and (m["metadata"].get("annotations") or {}).get(EXTERNAL_NAME) == external)


def test_adopt_review_promote_grow_cut_over_and_delete_keeps_the_estate(env: Env, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    cr = adopted_cr(regions=1)
    name = cr["metadata"]["name"]
    seeded = estate(cr)
    (tmp_path / "estate.json").write_text(json.dumps(seeded), encoding="utf-8")
    out = tmp_path / "cloud.json"
    env.start_simulator(estate=tmp_path / "estate.json", cloud_out=out)
    env.start_operator()
    env.apply(cr)
    estate_keys = {(kind, ext) for kind, by_name in seeded.items() for ext in by_name}

    def estate_untouched(*ops: str) -> None:
        touched = [op for op in cloud(out)["operations"] if op[0] in ops and (op[1], op[3]) in estate_keys]
        assert not touched, touched

    # 1. Observe, one region: every adopted MR is found in the estate and reported from it, the settings that differ
    #    from ours are listed (AdoptionDrift), and nothing of the estate was created, updated or deleted
    estate_externals = {(key.split("/")[1], ext) for key, ext in estate_keys}

    def all_observed() -> list[dict[str, Any]] | None:
        """Every estate resource has its adopted MR (dependents such as the trigger are rendered in later passes)
        and every adopted MR is Ready, reported from the estate."""
        adopted = adopted_mrs(env, name)
        externals = {(m["kind"], m["metadata"]["annotations"][EXTERNAL_NAME]) for m in adopted}
        ready = [m for m in adopted if any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in (m.get("status") or {}).get("conditions") or [])]
        return adopted if estate_externals <= externals and len(ready) == len(adopted) else None

    adopted = env.wait_for("every estate resource adopted and observed", all_observed, timeout=240)
    assert {(m["spec"]["forProvider"].get("region"), tuple(m["spec"]["managementPolicies"])) for m in adopted} == {
        ("us-east-1", ("Observe",))}
    drift = env.wait_condition(name, "AdoptionDrift", "True", timeout=120)
    assert "enableDnsHostnames" in drift["message"], drift
    assert (env.condition(name, "Stalled") or {}).get("reason") != "AdoptedResourceNotFound"
    mrs = env.mrs(name)
    # nothing of ours is attached to the observed ALB (listeners, WebACL association) or function (a trigger)
    assert not [m for m in mrs if m["kind"] == "WebACLAssociation"]
    assert {m["metadata"]["annotations"][EXTERNAL_NAME] for m in mrs if m["kind"] == "LBListener"} == {
        HTTPS_LISTENER, HTTP_LISTENER}
    assert [m["metadata"]["annotations"][EXTERNAL_NAME] for m in mrs if m["kind"] == "EventSourceMapping"] == [
        ESM_UUID]
    estate_untouched("create", "update", "delete")

    # 2. plan shows the drift, field by field
    cr_file = tmp_path / "rd.json"
    cr_file.write_text(json.dumps({**cr, "metadata": {**cr["metadata"], "namespace": env.ns}}), encoding="utf-8")
    cli.main(["plan", str(cr_file), f"--kubeconfig={env.cp.kubeconfig_path}", f"--kubectl={env.cp.kubectl_path}"])
    printed = capsys.readouterr().out
    assert "in Manage these settings would change (AWS has -> Manage sets):" in printed
    assert "enableDnsHostnames: false -> true" in printed

    # 3. promote, the bucket and the tables last: the estate is managed where it stands, with our settings on it
    data_stores = ("uploadsBucket", "sessionsTable", "ledgerTable")
    env.apply(adopted_cr("Manage", regions=1, observe=data_stores))
    converged(env, name, timeout=300)
    mrs = env.mrs(name)
    association = next(m for m in mrs if m["kind"] == "WebACLAssociation")
    assert association["spec"]["forProvider"]["resourceArn"] == LB_ARN
    alb_alarms = [m for m in mrs if m["kind"] == "MetricAlarm"
                  and "LoadBalancer" in (m["spec"]["forProvider"].get("dimensions") or {})]
    assert alb_alarms and {m["spec"]["forProvider"]["dimensions"]["LoadBalancer"] for m in alb_alarms} == {
        LB_SUFFIX}
    lambda_alarms = [m for m in mrs if m["kind"] == "MetricAlarm"
                     and "FunctionName" in (m["spec"]["forProvider"].get("dimensions") or {})]
    assert lambda_alarms and {m["spec"]["forProvider"]["dimensions"]["FunctionName"] for m in lambda_alarms} == {
        FUNCTION}
    estate_untouched("create", "delete")

    # 4. grow: us-east-2 is added; replication from the bucket and tables still in Observe waits (Stalled, named)
    env.apply(adopted_cr("Manage", observe=data_stores))

    def blocked() -> dict[str, Any] | None:
        cond = env.condition(name, "Stalled") or {}
        text = cond.get("message", "")
        return cond if cond.get("reason") == "AdoptionBlocked" and "adopt.uploadsBucket" in text \
            and "adopt.sessionsTable" in text else None

    env.wait_for("Stalled AdoptionBlocked naming the bucket and the tables", blocked, timeout=240)
    assert not [m for m in env.mrs(name) if m["kind"] == "BucketReplicationConfiguration"]

    # 5. promote the data stores: us-east-2 is wired to the adopted resources
    env.apply(adopted_cr("Manage"))
    converged(env, name, timeout=300)
    mrs = env.mrs(name)
    east2 = [m for m in mrs if region_of(m) == "us-east-2"]
    replica = next(m for m in east2 if m["kind"] == "Instance")
    assert replica["spec"]["forProvider"]["replicateSourceDb"] == DB_ARN
    replication = next(m for m in mrs if m["kind"] == "BucketReplicationConfiguration")
    assert replication["metadata"]["annotations"][EXTERNAL_NAME] == BUCKET
    tables = [m for m in mrs if m["kind"] == "Table"]
    assert {m["metadata"]["annotations"][EXTERNAL_NAME] for m in tables} == {SESSIONS, LEDGER}
    assert all([rep["regionName"] for rep in m["spec"]["forProvider"]["replica"]] == ["us-east-2"] for m in tables)
    peering_routes = [m for m in mrs if m["kind"] == "Route" and region_of(m) == "us-east-1"
                      and m["metadata"]["labels"]["platform.regional.io/component"] == "peering"]
    assert sorted(m["spec"]["forProvider"]["routeTableId"] for m in peering_routes) == sorted(
        VPC["privateRouteTableIds"])
    # the new region has its own application tier, named as usual
    estate_names = {QUEUE_URL, DLQ_URL, FUNCTION, LB_ARN, CLUSTER, SERVICE, TOPIC_ARN}
    assert not [m for m in east2 if (m["metadata"].get("annotations") or {}).get(EXTERNAL_NAME) in estate_names]
    # Manage updates what exists and adds settings it lacks (the replication configuration); it creates and
    # deletes nothing that was there
    estate_untouched("create", "delete")

    # 6. cutover: payments move to us-east-2, the adopted trigger is disabled and the new one enabled, the estate's
    #    configuration path says so
    env.apply(adopted_cr("Manage", active="us-east-2"))
    converged(env, name, timeout=300)
    mrs = env.mrs(name)
    triggers = {region_of(m): m["spec"]["forProvider"]["enabled"] for m in mrs if m["kind"] == "EventSourceMapping"}
    assert triggers == {"us-east-1": False, "us-east-2": True}
    assert by_external_name(mrs, "EventSourceMapping", ESM_UUID)["spec"]["forProvider"]["enabled"] is False
    active = by_external_name(mrs, "Parameter", f"{PATH}activeRegion")
    assert active["spec"]["forProvider"]["insecureValue"] == "us-east-2"
    estate_untouched("create", "delete")
    east2_names = {(m["kind"], m["metadata"]["name"]) for m in mrs if region_of(m) == "us-east-2"}
    adopted_names = {f"{m['kind']}/{m['metadata']['name']}" for m in adopted_mrs(env, name)}

    # 7. delete: the estate stays, us-east-2's resources are gone, the Orphaned event lists the adopted MRs
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
    assert "(adopted, spec.regions[0].adopt.loadBalancer.arn)" in orphaned


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

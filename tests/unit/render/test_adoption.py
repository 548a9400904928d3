"""Adoption (spec.regions[].adopt): adopted MRs carry the identifier as the provider's external name and the
management policies of their mode; what an existing estate already has is not rendered again; new regions are
wired to what was adopted; what an adopted resource must change first is reported (Blocked), never changed.

MR names are never written out: they come from render.names (or the RenderContext of the same CR).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from regional_operator.errors import SpecValidationError
from regional_operator.render import RenderResult, names
from regional_operator.render.adoption import ADOPTED_ANNOTATION, MANAGE_WITHOUT_DELETE
from regional_operator.render.context import EXTERNAL_NAME, RenderContext
from regional_operator.render.observed import Observed

from tests.unit.render.conftest import ACCOUNT_ID, CrFactory, one, plausible_status, status_object

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{KEY_ID}"
VPC = {
    "id": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": [f"subnet-0a00000000000000{i}" for i in (1, 2, 3)],
    "privateSubnetIds": [f"subnet-0a00000000000000{i}" for i in (4, 5, 6)],
    "publicRouteTableId": "rtb-0a000000000000001",
    "privateRouteTableIds": [f"rtb-0a00000000000000{i}" for i in (2, 3, 4)],
    "internetGatewayId": "igw-0a000000000000001",
    "natGatewayIds": [f"nat-0a00000000000000{i}" for i in (1, 2, 3)],
}
DATABASE = {"identifier": "payments-legacy", "resourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY2"}
BUCKET = "acme-payments-uploads"
SESSIONS, LEDGER = "Sessions_Legacy", "ledger-legacy"


def adopt_all(mode: str = "Observe", **extra: Any) -> dict[str, Any]:
    return {
        "vpc": {**VPC, "mode": mode}, "kmsKey": {"arn": KEY_ARN, "mode": mode},
        "database": {**DATABASE, "mode": mode}, "uploadsBucket": {"name": BUCKET, "mode": mode},
        "sessionsTable": {"name": SESSIONS, "mode": mode}, "ledgerTable": {"name": LEDGER, "mode": mode}, **extra,
    }


@pytest.fixture
def adopted_cr(make_cr: CrFactory) -> Callable[..., dict[str, Any]]:
    def factory(mode: str = "Observe", **extra: Any) -> dict[str, Any]:
        cr = make_cr(2)
        cr["spec"]["regions"][0]["adopt"] = adopt_all(mode, **extra)
        return cr
    return factory


def estate_objects(ctx: RenderContext, *, retention: int = 7, versioning: str = "Enabled",
            stream: str = "NEW_AND_OLD_IMAGES") -> list[dict[str, Any]]:
    """What the provider reports for the adopted us-east-1 resources (the real estate)."""
    r = ctx.primary
    cidr = str(r.vpc_cidr)
    objs = [
        status_object("VPC", names.vpc(ctx, r), id=VPC["id"], cidrBlock=cidr),
        status_object("Key", names.kms_key(ctx, r), arn=KEY_ARN, id=KEY_ID),
        status_object("Instance", names.database(ctx, r), arn=f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:"
                      f"{DATABASE['identifier']}", backupRetentionPeriod=retention),
        status_object("BucketVersioning", names.uploads_bucket(ctx, r), versioningConfiguration={"status": versioning}),
        status_object("Table", names.sessions_table(ctx), streamEnabled=True, streamViewType=stream),
        status_object("Table", names.ledger_table(ctx), streamEnabled=True, streamViewType=stream),
    ]
    for tier, ids in (("public", VPC["publicSubnetIds"]), ("private", VPC["privateSubnetIds"])):
        for i, subnet_id in enumerate(ids):
            block = (r.public_subnets if tier == "public" else r.private_subnets)[i]
            objs.append(status_object("Subnet", names.subnet(ctx, r, tier, i), id=subnet_id, cidrBlock=str(block),
                                      availabilityZone=r.settings.availability_zones[i]))
    return objs


def observe_everything(render_cr: Callable[..., RenderResult], cr: dict[str, Any], ctx: RenderContext,
                       **estate: Any) -> Observed:
    """Every MR observed (plausible status), the adopted ones with the estate's real values."""
    real = {(o["kind"], o["metadata"]["name"]): o for o in estate_objects(ctx, **estate)}
    observed = Observed.from_objects(real.values())
    for _ in range(6):
        result = render_cr(cr, observed)
        objs = [status_object(m["kind"], m["metadata"]["name"], **plausible_status(m)) for m in result.resources]
        merged = {(o["kind"], o["metadata"]["name"]): o for o in objs} | real
        observed = Observed.from_objects(merged.values())
    return observed


def test_adopted_mrs_carry_the_provider_external_name_and_observe_only(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr()
    ctx = context_for(cr)
    result = render_cr(cr, observe_everything(render_cr, cr, ctx))
    r = ctx.primary
    expected = {
        ("VPC", names.vpc(ctx, r)): VPC["id"],
        ("Subnet", names.subnet(ctx, r, "private", 1)): VPC["privateSubnetIds"][1],
        ("RouteTable", names.private_route_table(ctx, r, 2)): VPC["privateRouteTableIds"][2],
        ("InternetGateway", names.internet_gateway(ctx, r)): VPC["internetGatewayId"],
        ("NATGateway", names.nat_gateway(ctx, r, 0)): VPC["natGatewayIds"][0],
        ("Key", names.kms_key(ctx, r)): KEY_ID,  # the key id, not the ARN (IdentifierFromProvider)
        ("Instance", names.database(ctx, r)): DATABASE["resourceId"],  # DbiResourceId, not the identifier
        ("Bucket", names.uploads_bucket(ctx, r)): BUCKET,
        ("BucketVersioning", names.uploads_bucket(ctx, r)): BUCKET,
        ("Table", names.sessions_table(ctx)): SESSIONS,
        ("Table", names.ledger_table(ctx)): LEDGER,
    }
    for (kind, name), external in expected.items():
        mr = one(result.resources, kind, name)
        assert mr["metadata"]["annotations"][EXTERNAL_NAME] == external, (kind, name)
        assert mr["spec"]["managementPolicies"] == ["Observe"], (kind, name)
        assert mr["metadata"]["annotations"][ADOPTED_ANNOTATION].startswith("spec.regions[0].adopt.")
    db = one(result.resources, "Instance", names.database(ctx, r))["spec"]["forProvider"]
    assert db["identifier"] == DATABASE["identifier"]
    # nothing that would reset the live database's credentials or its ForceNew identity
    assert not {"username", "dbName", "autoGeneratePassword", "passwordSecretRef", "manageMasterUserPassword"} & set(db)
    # every other MR keeps full management and no adoption annotation
    adopted = {(k, n) for (k, n) in result.adopted}
    assert set(expected) <= adopted
    for mr in result.resources:
        if (mr["kind"], mr["metadata"]["name"]) not in adopted:
            assert ADOPTED_ANNOTATION not in mr["metadata"].get("annotations", {})
            assert mr["spec"]["managementPolicies"] == ["*"]


def test_the_secondary_region_is_untouched_by_the_primarys_adoption(
        adopted_cr: Callable[..., dict[str, Any]], make_cr: CrFactory, context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr()
    result = render_cr(cr, observe_everything(render_cr, cr, context_for(cr)))
    assert all(region == "us-east-1" for kind, _ in result.adopted
               for region in [one(result.resources, kind, _)["metadata"]["labels"]["platform.regional.io/region"]])


@pytest.mark.parametrize(("mode", "deletion", "policies"), [
    ("Manage", "Orphan", MANAGE_WITHOUT_DELETE),
    ("Manage", "Delete", ["*"]),
    ("Observe", "Delete", ["Observe"]),
])
def test_manage_keeps_delete_out_unless_adopt_deletion_is_delete(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult], mode: str, deletion: str, policies: list[str]) -> None:
    cr = adopted_cr(mode, deletion=deletion)
    ctx = context_for(cr)
    result = render_cr(cr, observe_everything(render_cr, cr, ctx))
    for kind, name in result.adopted:
        assert one(result.resources, kind, name)["spec"]["managementPolicies"] == policies, (kind, name)


def test_an_adopted_vpc_gets_no_second_gateway_route_eip_association_or_nacl(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr()
    ctx = context_for(cr)
    result = render_cr(cr, observe_everything(render_cr, cr, ctx))
    east1 = [m for m in result.resources if m["metadata"]["labels"]["platform.regional.io/region"] == "us-east-1"]
    east2 = [m for m in result.resources if m["metadata"]["labels"]["platform.regional.io/region"] == "us-east-2"]
    kinds1 = {m["kind"] for m in east1}
    assert not {"EIP", "RouteTableAssociation", "NetworkACL", "NetworkACLRule"} & kinds1
    # the only routes in the adopted VPC are our own peering routes into its (observed) private route tables
    routes = [m for m in east1 if m["kind"] == "Route"]
    assert routes and all(m["metadata"]["labels"]["platform.regional.io/component"] == "peering" for m in routes)
    assert {m["spec"]["forProvider"]["routeTableIdRef"]["name"] for m in routes} == {
        names.private_route_table(ctx, ctx.primary, i) for i in range(3)}
    assert all(m["spec"]["managementPolicies"] == ["*"] for m in routes)
    # the new region is a complete fresh network
    assert {"EIP", "RouteTableAssociation", "NetworkACL", "NetworkACLRule"} <= {m["kind"] for m in east2}


def test_adopted_subnets_take_the_real_cidr_and_zone(adopted_cr: Callable[..., dict[str, Any]],
                                                      context_for: Callable[..., RenderContext],
                                                      render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr()
    ctx = context_for(cr)
    r = ctx.primary
    subnet = names.subnet(ctx, r, "private", 0)
    observed = Observed.from_objects([
        status_object("Subnet", subnet, id=VPC["privateSubnetIds"][0], cidrBlock="10.10.200.0/24",
                      availabilityZone="us-east-1b")])
    fp = one(render_cr(cr, observed).resources, "Subnet", subnet)["spec"]["forProvider"]
    assert (fp["cidrBlock"], fp["availabilityZone"]) == ("10.10.200.0/24", "us-east-1b")


def test_a_vpc_cidr_that_is_not_the_adopted_vpcs_is_refused(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr()
    ctx = context_for(cr)
    observed = Observed.from_objects([status_object("VPC", names.vpc(ctx, ctx.primary), id=VPC["id"],
                                                    cidrBlock="10.99.0.0/16")])
    with pytest.raises(SpecValidationError) as refused:
        render_cr(cr, observed)
    assert refused.value.field == "spec.regions[0].vpcCidr"
    assert "10.99.0.0/16" in refused.value.rule and VPC["id"] in refused.value.rule


def test_peering_routes_wait_for_the_adopted_vpcs_real_cidr(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr()
    ctx = context_for(cr)
    observed = observe_everything(render_cr, cr, ctx)
    without_cidr = Observed({k: v for k, v in observed.resources.items() if k != ("VPC", names.vpc(ctx, ctx.primary))})
    result = render_cr(cr, without_cidr)
    assert not [m for m in result.resources if m["kind"] == "Route"
                and m["metadata"]["labels"]["platform.regional.io/component"] == "peering"]
    assert any("cidrBlock" in p.waits_for for p in result.pending)


def test_new_region_is_wired_to_the_adopted_resources(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr("Manage")
    ctx = context_for(cr)
    result = render_cr(cr, observe_everything(render_cr, cr, ctx))
    assert result.blocked == ()
    east2 = ctx.region("us-east-2")
    replica = one(result.resources, "Instance", names.database(ctx, east2))["spec"]["forProvider"]
    assert replica["replicateSourceDb"] == f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:{DATABASE['identifier']}"
    table = one(result.resources, "Table", names.sessions_table(ctx))["spec"]["forProvider"]
    assert [rep["regionName"] for rep in table["replica"]] == ["us-east-2"]
    replication = one(result.resources, "BucketReplicationConfiguration", names.uploads_bucket(ctx, ctx.primary))
    assert replication["spec"]["forProvider"]["bucketRef"] == {"name": names.uploads_bucket(ctx, ctx.primary)}
    policy = next(m for m in result.resources if m["kind"] == "RolePolicy"
                  and m["metadata"]["labels"]["platform.regional.io/component"] == "uploads")
    assert f"arn:aws:s3:::{BUCKET}" in policy["spec"]["forProvider"]["policy"]  # the real bucket, by its AWS name
    dims = [m["spec"]["forProvider"].get("dimensions") for m in result.resources if m["kind"] == "MetricAlarm"]
    assert {"DBInstanceIdentifier": DATABASE["identifier"]} in dims
    assert {"TableName": SESSIONS} in dims


def test_observe_only_sources_report_what_must_change_before_replication(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult]) -> None:
    cr = adopted_cr("Observe")
    ctx = context_for(cr)
    result = render_cr(cr, observe_everything(render_cr, cr, ctx))
    blocked = {(b.kind, b.name): b for b in result.blocked}
    assert ("BucketReplicationConfiguration", names.uploads_bucket(ctx, ctx.primary)) in blocked
    assert "Manage" in blocked[("Table", names.sessions_table(ctx))].needs
    table = one(result.resources, "Table", names.sessions_table(ctx))["spec"]["forProvider"]
    assert table["replica"]  # what Manage would set; Observe applies nothing of it
    # the read replica only reads the source: it is created while the source is observed
    one(result.resources, "Instance", names.database(ctx, ctx.region("us-east-2")))


@pytest.mark.parametrize(("estate", "kind", "words"), [
    ({"retention": 0}, "Instance", "no automated backups"),
    ({"versioning": "Suspended"}, "BucketReplicationConfiguration", "not versioned"),
    ({"stream": "KEYS_ONLY"}, "Table", "NEW_AND_OLD_IMAGES"),
])
def test_a_source_without_what_the_secondary_needs_is_blocked_and_left_unchanged(
        adopted_cr: Callable[..., dict[str, Any]], context_for: Callable[..., RenderContext],
        render_cr: Callable[..., RenderResult], estate: dict[str, Any], kind: str, words: str) -> None:
    cr = adopted_cr("Manage")
    ctx = context_for(cr)
    result = render_cr(cr, observe_everything(render_cr, cr, ctx, **estate))
    hits = [b for b in result.blocked if b.kind == kind]
    assert hits and words in hits[0].needs and hits[0].field.startswith("spec.regions[0].adopt.")
    east2 = ctx.region("us-east-2")
    if kind == "Instance":
        assert not [m for m in result.resources if m["kind"] == "Instance"
                    and m["metadata"]["name"] == names.database(ctx, east2)]
    if kind == "BucketReplicationConfiguration":
        assert "BucketReplicationConfiguration" not in {m["kind"] for m in result.resources}
    if kind == "Table":
        fp = one(result.resources, "Table", names.sessions_table(ctx))["spec"]["forProvider"]
        assert fp["replica"] == [] and fp["streamViewType"] == "KEYS_ONLY"  # the stream kept as it is


def test_without_adopt_nothing_changes(make_cr: CrFactory, render_cr: Callable[..., RenderResult]) -> None:
    cr = make_cr(2)
    plain = render_cr(cr)
    again = copy.deepcopy(cr)
    again["spec"]["regions"][0]["adopt"] = {}
    assert render_cr(again).resources == plain.resources
    assert plain.adopted == {} and plain.blocked == ()

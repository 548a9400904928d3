"""Properties of the renderer over generated inputs (hypothesis): names fit AWS and Kubernetes limits for every
allowed suffix and region, CIDR carving, and the hub-and-spoke peering topology for 2..10 regions."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from regional_operator.aws_facts import AWS_REGIONS, REGION_DIRECTION_CODES
from regional_operator.defaults import RegionDefaults, load_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.naming import SUFFIX_PATTERN, max_suffix_length
from regional_operator.render import RenderResult, names, render
from regional_operator.render.context import EXTERNAL_NAME, RenderContext, region_number
from regional_operator.render.observed import Observed
from regional_operator.spec import MAX_CR_NAME, parse_spec

from tests.unit.render.conftest import ACCOUNT_ID, certificate_of, plausible_status, status_object
from tests.unit.render.test_golden import FAKE_ARTIFACT

DEFAULTS: RegionDefaults = load_defaults()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RFC1918 = [ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


# --- strategies --------------------------------------------------------------------------------------------------


@st.composite
def suffixes(draw: st.DrawFn, min_size: int = 1, max_size: int | None = None) -> str:
    """Strings matching the suffix pattern ^[a-z0-9]+(-[a-z0-9]+)*$ (no "--") of a length in [min_size, max_size]."""
    size = draw(st.integers(min_size, max_size if max_size is not None else max_suffix_length()))
    if size == 1:
        return draw(st.sampled_from(ALNUM))
    middle = draw(st.text(alphabet=ALNUM + "-", min_size=size - 2, max_size=size - 2))
    while "--" in middle:  # same length, no double hyphen
        middle = middle.replace("--", "-a")
    return draw(st.sampled_from(ALNUM)) + middle + draw(st.sampled_from(ALNUM))


@st.composite
def region_names(draw: st.DrawFn) -> str:
    """From the region pattern: area (2 letters), optional gov, direction word, digit 1-9."""
    area = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=2))
    gov = draw(st.sampled_from(["", "gov-"]))
    direction = draw(st.sampled_from(sorted(REGION_DIRECTION_CODES)))
    return f"{area}-{gov}{direction}-{draw(st.integers(1, 9))}"


@st.composite
def cr_names(draw: st.DrawFn) -> str:
    """A RegionalDeployment metadata.name the CRD admits: a DNS subdomain of at most 40 characters."""
    labels = draw(st.lists(suffixes(max_size=12), min_size=1, max_size=3))
    return ".".join(labels)[:MAX_CR_NAME].rstrip(".-") or "x"


@st.composite
def private_networks(draw: st.DrawFn, prefixes: tuple[int, int] = (16, 24)) -> ipaddress.IPv4Network:
    """Any network inside an RFC 1918 block with a prefix in the given range (host bits cleared)."""
    block = draw(st.sampled_from(RFC1918))
    prefix = draw(st.integers(max(prefixes[0], block.prefixlen), prefixes[1]))
    address = draw(st.integers(int(block.network_address), int(block.broadcast_address)))
    return ipaddress.IPv4Network((address, prefix), strict=False)


def region_entry(name: str, cidr: str, *, primary: bool = False) -> dict[str, Any]:
    """A region the defaults file may not know: zones and the payments endpoint are given in the CR; a name that is
    not in aws_facts.AWS_REGIONS (most generated ones) is vouched for with allowUnlistedRegion."""
    entry = {"name": name, "primary": primary, "vpcCidr": cidr,
             "availabilityZones": [f"{name}{z}" for z in "abc"],
             "paymentsApiEndpoint": f"https://payments.{name}.example.com"}
    if name not in AWS_REGIONS:
        entry["allowUnlistedRegion"] = True
    return entry


def make_cr(regions: list[dict[str, Any]], *, suffix: str = "prod", name: str = "payments",
            namespace: str = "payments", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"environment": "prod", "environmentSuffix": suffix, "costCenter": "cc-1234",
                 "awsAccountId": ACCOUNT_ID,
                 "regions": [{"certificateArn": certificate_of(r["name"]), **r} for r in regions], **spec},
    }


def render_observed(cr: dict[str, Any]) -> RenderResult:
    """Render, report plausible status for every MR, repeat until nothing new appears (as conftest's observe_all,
    which is a function-scoped fixture and so cannot serve @given tests)."""
    observed, seen = Observed(), -1
    for _ in range(8):
        result = render(cr, DEFAULTS, observed, FAKE_ARTIFACT)
        if len(result.resources) == seen:
            return result
        seen = len(result.resources)
        observed = Observed.from_objects(status_object(m["kind"], m["metadata"]["name"], **plausible_status(m))
                                         for m in result.resources)
    raise AssertionError("rendering did not converge")


def context(cr: dict[str, Any]) -> RenderContext:
    meta = cr["metadata"]
    return RenderContext(parse_spec(cr["spec"]), DEFAULTS, namespace=meta["namespace"], name=meta["name"],
                         observed=Observed())


# --- names -------------------------------------------------------------------------------------------------------

IP_LIKE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
ELB_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")


def aws_name(mr: dict[str, Any]) -> str:
    """The name AWS sees: a name field where the kind has one, else the external name, else metadata.name."""
    fp = mr["spec"]["forProvider"]
    if mr["kind"] == "Instance":
        return str(fp["identifier"])
    if mr["kind"] in ("LB", "LBTargetGroup", "Queue") and "name" in fp:
        return str(fp["name"])
    return str((mr["metadata"].get("annotations") or {}).get(EXTERNAL_NAME, mr["metadata"]["name"]))


def name_problems(mr: dict[str, Any]) -> list[str]:
    """Every way this MR's names break a Kubernetes or AWS rule (empty when all fit)."""
    problems: list[str] = []
    meta = mr["metadata"]
    if len(meta["name"]) > 253 or not DNS_SUBDOMAIN.match(meta["name"]):
        problems.append(f"metadata.name {meta['name']!r} is not a DNS subdomain <= 253")
    for key, value in meta["labels"].items():
        if len(value) > 63 or not LABEL_VALUE.match(value):
            problems.append(f"label {key}={value!r} is not a valid label value <= 63")
    kind, name = mr["kind"], aws_name(mr)

    def need(ok: bool, rule: str) -> None:
        if not ok:
            problems.append(f"{kind} name {name!r}: {rule}")

    if kind in ("LB", "LBTargetGroup"):
        need(len(name) <= 32, "ELBv2 names are at most 32 characters")
        need(bool(ELB_NAME.match(name)) and not name.startswith("internal-"), "ELBv2 name characters")
    elif kind == "Bucket":
        need(3 <= len(name) <= 63, "bucket names are 3-63 characters")
        need(bool(BUCKET_CHARS.match(name)), "lowercase letters, digits, '.', '-', alphanumeric at both ends")
        need(".." not in name, "no '..'")
        need(not IP_LIKE.match(name), "not formatted like an IP address")
        need(not name.startswith(BUCKET_RESERVED_PREFIXES) and not name.endswith(BUCKET_RESERVED_SUFFIXES),
             "no reserved prefix or suffix")
    elif kind == "Instance":
        need(len(name) <= 63, "RDS identifiers are at most 63 characters")
        need(name[:1].isalpha() and name[:1].islower(), "RDS identifiers start with a letter")
        need(bool(re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", name)), "letters, digits, '-', not ending in '-'")
    elif kind == "SubnetGroup":
        need(len(name) <= 255 and name != "default", "DB subnet group name")
    elif kind == "Role":
        need(len(name) <= 64 and bool(re.match(r"^[\w+=,.@-]+$", name)), "IAM role names are at most 64")
    elif kind == "RolePolicy":
        need(len(name) <= 128, "IAM inline policy names are at most 128")
    elif kind == "Function":
        need(len(name) <= 64 and bool(re.match(r"^[a-zA-Z0-9_-]+$", name)), "Lambda names are at most 64")
    elif kind == "Queue":
        need(len(name) <= 80 and bool(re.match(r"^[a-zA-Z0-9_-]+$", name)), "SQS names are at most 80")
    elif kind == "Table":
        need(3 <= len(name) <= 255 and bool(re.match(r"^[a-zA-Z0-9_.-]+$", name)), "DynamoDB table name")
    elif kind == "WebACL":
        need(len(name) <= 128 and bool(re.match(r"^[\w-]+$", name)), "WAFv2 names are at most 128")
    elif kind == "Alias":
        # the external name is the alias without `alias/` (the provider adds it); AWS reserves alias/aws/*
        need(len(f"alias/{name}") <= 256 and not name.startswith(("alias/", "aws/")), "KMS alias")
    elif kind == "Topic":
        need(len(name) <= 256, "SNS topic names are at most 256")
    elif kind == "SecurityGroup":
        need(len(name) <= 255 and not name.startswith("sg-"), "security group names")
    return problems


@settings(SETTINGS, max_examples=100)
@given(suffix=suffixes(), regions=st.lists(region_names(), min_size=2, max_size=2, unique_by=region_number),
       cr_name=cr_names(), namespace=suffixes(max_size=63))
def test_every_name_fits_its_field(suffix: str, regions: list[str], cr_name: str, namespace: str) -> None:
    primary, secondary = regions
    cr = make_cr([region_entry(primary, "10.10.0.0/16", primary=True), region_entry(secondary, "10.20.0.0/16")],
                 suffix=suffix, name=cr_name, namespace=namespace)
    result = render_observed(cr)
    assert result.pending == ()
    problems = [p for mr in result.resources for p in name_problems(mr)]
    assert problems == []
    # the kinds whose limits are tight are all there (the property is not vacuous)
    kinds = {m["kind"] for m in result.resources}
    assert {"LB", "LBTargetGroup", "Bucket", "Instance", "Role", "Function", "Queue"} <= kinds


def test_longest_suffix_with_longest_region_code_fits() -> None:
    """The worst case spelled out: a max-length suffix with 6-character region codes (gov + 2-letter direction)."""
    cr = make_cr([region_entry("us-gov-northeast-9", "10.10.0.0/16", primary=True),
                  region_entry("ap-gov-southwest-8", "10.20.0.0/16")], suffix="z" * max_suffix_length(),
                 name="n" * MAX_CR_NAME)
    result = render_observed(cr)
    assert [p for mr in result.resources for p in name_problems(mr)] == []
    assert max(len(aws_name(m)) for m in result.resources if m["kind"] == "LB") == 32  # exactly at the limit


@SETTINGS
@given(suffix=suffixes(min_size=max_suffix_length() + 1, max_size=max_suffix_length() + 12))
def test_a_longer_suffix_is_refused_naming_the_field(suffix: str) -> None:
    assert SUFFIX_PATTERN.match(suffix)
    cr = make_cr([region_entry("us-east-1", "10.10.0.0/16", primary=True), region_entry("us-east-2", "10.20.0.0/16")],
                 suffix=suffix)
    with pytest.raises(SpecValidationError) as err:
        render(cr, DEFAULTS)
    assert err.value.field == "spec.environmentSuffix"


def test_a_longer_cr_name_is_refused_naming_the_field() -> None:
    cr = make_cr([region_entry("us-east-1", "10.10.0.0/16", primary=True), region_entry("us-east-2", "10.20.0.0/16")],
                 name="n" * (MAX_CR_NAME + 1))
    with pytest.raises(SpecValidationError) as err:
        render(cr, DEFAULTS)
    assert err.value.field == "metadata.name"


def test_suffix_with_consecutive_hyphens_is_refused_or_yields_valid_rds_identifiers() -> None:
    cr = make_cr([region_entry("us-east-1", "10.10.0.0/16", primary=True), region_entry("us-east-2", "10.20.0.0/16")],
                 suffix="a--b")
    try:
        result = render_observed(cr)
    except SpecValidationError as err:
        assert err.field == "spec.environmentSuffix"
        return
    identifiers = [m["spec"]["forProvider"]["identifier"] for m in result.resources if m["kind"] == "Instance"]
    assert identifiers and all("--" not in i for i in identifiers), identifiers


# --- CIDR carving ------------------------------------------------------------------------------------------------


@SETTINGS
@given(first=private_networks(), second=private_networks())
def test_subnets_are_disjoint_inside_the_vpc_and_spread_over_three_zones(first: ipaddress.IPv4Network,
                                                                         second: ipaddress.IPv4Network) -> None:
    assume(not first.overlaps(second))
    cr = make_cr([region_entry("us-east-1", str(first), primary=True), region_entry("eu-west-1", str(second))])
    result = render(cr, DEFAULTS)
    ctx = context(cr)
    for r in ctx.regions:
        subnets = [m for m in result.resources
                   if m["kind"] == "Subnet" and m["spec"]["forProvider"]["region"] == r.name]
        assert len(subnets) == 6
        blocks = [ipaddress.IPv4Network(m["spec"]["forProvider"]["cidrBlock"]) for m in subnets]
        assert all(b.subnet_of(r.vpc_cidr) for b in blocks)
        assert all(b.prefixlen == r.vpc_cidr.prefixlen + 3 for b in blocks)
        assert all(not a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[:i])
        for tier in ("public", "private"):
            zones = [m["spec"]["forProvider"]["availabilityZone"] for m in subnets
                     if m["metadata"]["name"] in {names.subnet(ctx, r, tier, i) for i in range(3)}]
            assert sorted(zones) == sorted(set(zones)) == sorted(r.settings.availability_zones)
            assert all(z.startswith(r.name) for z in zones)


@SETTINGS
@given(network=st.integers(0, 2**32 - 1), prefix=st.integers(16, 24))
def test_only_rfc1918_cidrs_are_accepted(network: int, prefix: int) -> None:
    cidr = ipaddress.IPv4Network((network, prefix), strict=False)
    cr = make_cr([region_entry("us-east-1", "10.10.0.0/16", primary=True), region_entry("eu-west-1", str(cidr))])
    inside = any(cidr.subnet_of(block) for block in RFC1918)
    assume(not (inside and cidr.overlaps(ipaddress.IPv4Network("10.10.0.0/16"))))
    if inside:
        render(cr, DEFAULTS)
    else:
        with pytest.raises(SpecValidationError) as err:
            render(cr, DEFAULTS)
        assert err.value.field == "spec.regions[1].vpcCidr"


@SETTINGS
@given(first=private_networks(), prefix=st.integers(8, 32))
def test_prefixes_outside_16_to_24_are_refused(first: ipaddress.IPv4Network, prefix: int) -> None:
    assume(not 16 <= prefix <= 24)
    cidr = ipaddress.IPv4Network((int(first.network_address), prefix), strict=False)
    cr = make_cr([region_entry("us-east-1", str(cidr), primary=True), region_entry("eu-west-1", "192.168.0.0/16")])
    with pytest.raises(SpecValidationError) as err:
        render(cr, DEFAULTS)
    assert err.value.field == "spec.regions[0].vpcCidr"


# --- N-region peering --------------------------------------------------------------------------------------------


@st.composite
def deployments(draw: st.DrawFn) -> dict[str, Any]:
    """2..10 distinct regions (any valid names), one primary anywhere in the list, disjoint CIDRs of /16../24."""
    count = draw(st.integers(2, 10))
    regions = draw(st.lists(region_names(), min_size=count, max_size=count, unique_by=region_number))
    octets = draw(st.lists(st.integers(0, 255), min_size=count, max_size=count, unique=True))
    prefixes = draw(st.lists(st.integers(16, 24), min_size=count, max_size=count))
    primary = draw(st.integers(0, count - 1))
    return make_cr([region_entry(name, f"10.{octet}.0.0/{prefix}", primary=i == primary)
                    for i, (name, octet, prefix) in enumerate(zip(regions, octets, prefixes, strict=True))])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cr=deployments())
def test_peering_is_hub_and_spoke(cr: dict[str, Any]) -> None:
    result = render_observed(cr)
    ctx = context(cr)
    n, primary, secondaries = len(ctx.regions), ctx.primary, ctx.secondaries
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for m in result.resources:
        by_kind.setdefault(m["kind"], []).append(m)

    def region_of(m: dict[str, Any]) -> str:
        return str(m["spec"]["forProvider"]["region"])

    requesters = by_kind["VPCPeeringConnection"]
    assert len(requesters) == n - 1
    assert all(region_of(m) == primary.name for m in requesters)
    assert sorted(m["spec"]["forProvider"]["peerRegion"] for m in requesters) == sorted(s.name for s in secondaries)
    pcx_for = {m["spec"]["forProvider"]["peerRegion"]: m["metadata"]["name"] for m in requesters}

    accepters = by_kind["VPCPeeringConnectionAccepter"]
    assert len(accepters) == n - 1
    assert sorted(region_of(m) for m in accepters) == sorted(s.name for s in secondaries)  # distinct, all of them
    for m in accepters:  # plausible_status reports the requester's name as its id
        assert m["spec"]["forProvider"]["vpcPeeringConnectionId"] == pcx_for[region_of(m)]

    private_rts = {r.name: {names.private_route_table(ctx, r, i) for i in range(3)} for r in ctx.regions}
    rt_region = {m["metadata"]["name"]: region_of(m) for m in by_kind["RouteTable"]}
    cidr_of = {str(r.vpc_cidr): r.name for r in ctx.regions}
    peer_routes = [m for m in by_kind["Route"] if "vpcPeeringConnectionId" in m["spec"]["forProvider"]]
    assert len(peer_routes) == 6 * (n - 1)  # 3 per side per pair
    # (route table, destination region) for every route to a peer CIDR, however it is wired
    to_peer: list[tuple[str, str, str]] = []
    for m in by_kind["Route"]:
        fp = m["spec"]["forProvider"]
        dest = cidr_of.get(fp["destinationCidrBlock"])
        if dest is None:
            assert "vpcPeeringConnectionId" not in fp
            continue
        rt = fp["routeTableIdRef"]["name"]
        assert rt_region[rt] == region_of(m)
        assert rt in private_rts[region_of(m)], f"route to a peer in a public route table: {m['metadata']['name']}"
        here = region_of(m)
        assert primary.name in (here, dest), f"{here} routes to {dest}: secondaries must not reach each other"
        assert fp["vpcPeeringConnectionId"] == pcx_for[dest if here == primary.name else here]
        to_peer.append((rt, here, dest))
    assert len(to_peer) == len(set(to_peer)) == 6 * (n - 1)
    for rt in private_rts[primary.name]:
        assert {d for t, _, d in to_peer if t == rt} == {s.name for s in secondaries}
    for s in secondaries:
        for rt in private_rts[s.name]:
            assert [d for t, _, d in to_peer if t == rt] == [primary.name]
    # the stateless fence agrees: a secondary's private NACL admits its own VPC and the primary, no other spoke
    for s in secondaries:
        cidrs = {m["spec"]["forProvider"]["cidrBlock"] for m in by_kind["NetworkACLRule"] if region_of(m) == s.name}
        assert not cidrs & {str(o.vpc_cidr) for o in secondaries if o is not s}

"""Issue 12 in the renderer: edits of a live estate touch only what changed, and none renders a replacement.

- Region identity: every number AWS needs per region (NACL rule numbers, S3 replication priorities) comes from the
  region's entry in aws_facts.AWS_REGIONS, so removing or adding a region (anywhere in the list) leaves every MR of
  the other regions byte-identical, except the few "link" MRs that list every region by nature.
- Region names are checked against the table; allowUnlistedRegion is the documented way past it.
- Region defaults that would move a live subnet (availabilityZones) are refused, naming the field.
- Failover (spec.failover) changes exactly the MRs docs/aws-semantics.md lists; moving the primary afterwards
  changes nothing.

"Live" here means observed as a provider reports it: plausible ids and ARNs plus the fields the provider mirrors
into atProvider that the renderer reads (cidrBlock, availabilityZone, replicateSourceDb).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from regional_operator.aws_facts import AWS_REGIONS, NACL_RULE_NUMBER_MAX, UNLISTED_REGION_NUMBERS
from regional_operator.defaults import RegionDefaults, parse_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.naming import REGION_PATTERN
from regional_operator.render import render
from regional_operator.render.context import LABEL_REGION, region_number
from regional_operator.render.network import PEER_RULE_BASE
from regional_operator.render.observed import Observed

from tests.unit.render.conftest import ACCOUNT_ID, TWO_REGION_CR, certificate_of, plausible_status, status_object
from tests.unit.render.test_golden import FAKE_ARTIFACT

REGIONS = [
    {"name": "us-east-1", "primary": True, "vpcCidr": "10.10.0.0/16"},
    {"name": "us-east-2", "vpcCidr": "10.20.0.0/16"},
    {"name": "us-west-2", "vpcCidr": "10.30.0.0/16"},
    {"name": "eu-west-1", "vpcCidr": "10.40.0.0/16"},
]
MIRRORED = ("cidrBlock", "availabilityZone", "replicateSourceDb")
# MRs of untouched regions that list every region by nature, so a region edit must change them (and only them):
# the global tables' replica lists, and the S3 replication rules with their role policy (in the hub).
LINK_KINDS = frozenset({"Table", "BucketReplicationConfiguration", "RolePolicy/replication"})


def cr_with(regions: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    cr = copy.deepcopy(TWO_REGION_CR)
    cr["spec"]["regions"] = copy.deepcopy(regions)
    cr["spec"].update(copy.deepcopy(spec))
    for region in cr["spec"]["regions"]:  # production needs a certificate of its own region in every region
        region.setdefault("certificateArn", certificate_of(region["name"]))
    return cr


def provider_status(mr: dict[str, Any]) -> dict[str, Any]:
    """What a provider reports for an MR: plausible ids/ARNs plus the mirrored fields the renderer reads."""
    at = plausible_status(mr)
    for field in MIRRORED:
        if field in mr["spec"]["forProvider"]:
            at[field] = mr["spec"]["forProvider"][field]
    if mr["kind"] == "Instance":
        region = mr["spec"]["forProvider"]["region"]
        at["arn"] = f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{mr['spec']['forProvider']['identifier']}"
    return at


def converge(cr: dict[str, Any], defaults: RegionDefaults, observed: Observed | None = None,
             ) -> tuple[dict[tuple[str, str], dict[str, Any]], Observed]:
    """Render and observe until nothing new appears; the live objects keep what was first observed (a provider
    never rewrites what AWS created), as (MRs by (kind, name), observed)."""
    live: dict[tuple[str, str], dict[str, Any]] = {}
    if observed is not None:
        for (kind, name), res in observed.resources.items():
            live[(kind, name)] = status_object(kind, name, **res.at_provider)
    current = observed or Observed()
    rendered: dict[tuple[str, str], dict[str, Any]] = {}
    for _ in range(8):
        result = render(cr, defaults, current, FAKE_ARTIFACT)
        rendered = {(m["kind"], m["metadata"]["name"]): m for m in result.resources}
        wanted = {key: live.get(key) or status_object(key[0], key[1], **provider_status(m))
                  for key, m in rendered.items()}
        if set(wanted) == set(live) and not result.pending:
            break
        live = wanted
        current = Observed.from_objects(live.values())
    return rendered, Observed.from_objects(live.values())


def link_key(mr: dict[str, Any]) -> str:
    if mr["kind"] == "RolePolicy" and "replication" in mr["metadata"]["name"]:
        return "RolePolicy/replication"
    return str(mr["kind"])


def region_of(mr: dict[str, Any]) -> str:
    return str(mr["metadata"]["labels"][LABEL_REGION])


def dump(mr: dict[str, Any]) -> str:
    return json.dumps(mr, sort_keys=True)


def changed(before: dict[tuple[str, str], dict[str, Any]],
            after: dict[tuple[str, str], dict[str, Any]]) -> set[tuple[str, str]]:
    return {key for key in before.keys() & after.keys() if dump(before[key]) != dump(after[key])}


# ------------------------------------------------------------------------------------------- region identity


def test_region_table_numbers_are_unique_valid_and_apart_from_hashed_ones() -> None:
    assert len(set(AWS_REGIONS.values())) == len(AWS_REGIONS)
    assert all(REGION_PATTERN.match(name) for name in AWS_REGIONS)
    assert all(n > 0 and n not in UNLISTED_REGION_NUMBERS for n in AWS_REGIONS.values())
    assert {"us-east-1", "us-east-2", "us-west-2", "eu-central-1", "us-gov-west-1", "mx-central-1"} <= set(AWS_REGIONS)
    # a peer rule number stays inside what NACLs accept, for every possible region number
    assert PEER_RULE_BASE + max(*AWS_REGIONS.values(), UNLISTED_REGION_NUMBERS[-1]) <= NACL_RULE_NUMBER_MAX
    assert region_number("xx-east-9") in UNLISTED_REGION_NUMBERS
    assert region_number("xx-east-9") == region_number("xx-east-9")


def test_a_region_aws_does_not_have_is_refused_naming_the_field(defaults: RegionDefaults) -> None:
    typo = {"name": "us-east-7", "vpcCidr": "10.20.0.0/16", "availabilityZones": ["us-east-7a", "us-east-7b",
            "us-east-7c"], "paymentsApiEndpoint": "https://payments.example.com"}
    with pytest.raises(SpecValidationError) as err:
        render(cr_with([REGIONS[0], typo]), defaults)
    assert err.value.field == "spec.regions[1].name" and "allowUnlistedRegion" in err.value.rule
    result = render(cr_with([REGIONS[0], {**typo, "allowUnlistedRegion": True}]), defaults)
    assert "us-east-7" in result.by_region()


def test_two_unlisted_regions_with_one_number_are_refused(defaults: RegionDefaults) -> None:
    seen: dict[int, str] = {}
    pair: tuple[str, str] | None = None
    for area in ("aa", "ab", "ac", "ad", "ae", "af", "ag", "ah", "ai", "aj", "ak", "al", "am", "an", "ao", "aq"):
        for direction in ("east", "west", "north", "south", "central"):
            for digit in range(1, 10):
                name = f"{area}-{direction}-{digit}"
                number = region_number(name)
                if number in seen:
                    pair = (seen[number], name)
                    break
                seen[number] = name
            if pair:
                break
        if pair:
            break
    assert pair is not None

    def unlisted(name: str, cidr: str) -> dict[str, Any]:
        return {"name": name, "vpcCidr": cidr, "allowUnlistedRegion": True,
                "availabilityZones": [f"{name}{z}" for z in "abc"], "paymentsApiEndpoint": "https://p.example.com"}

    with pytest.raises(SpecValidationError) as err:
        render(cr_with([REGIONS[0], unlisted(pair[0], "10.20.0.0/16"), unlisted(pair[1], "10.30.0.0/16")]),
               defaults)
    assert err.value.field == "spec.regions[2].name" and "region number" in err.value.rule


@pytest.mark.parametrize("count", [3, 4])
def test_removing_a_region_changes_only_its_mrs_and_the_links(defaults: RegionDefaults, count: int) -> None:
    regions = REGIONS[:count]
    full, observed = converge(cr_with(regions), defaults)
    for removed in regions[1:]:  # the primary cannot be removed (refused at admission, see test_crd_admission)
        rest = [r for r in regions if r is not removed]
        smaller, smaller_observed = converge(cr_with(rest), defaults, observed)
        assert not any(region_of(m) == removed["name"] for m in smaller.values())
        moved = changed(full, smaller)
        assert {link_key(full[k]) for k in moved} <= LINK_KINDS, sorted(moved)
        # the replication rules of the regions left keep their ids and priorities
        rules = {rule["id"]: rule["priority"] for m in full.values() if m["kind"] == "BucketReplicationConfiguration"
                 for rule in m["spec"]["forProvider"]["rule"]}
        kept = {rule["id"]: rule["priority"] for m in smaller.values()
                if m["kind"] == "BucketReplicationConfiguration" for rule in m["spec"]["forProvider"]["rule"]}
        assert kept == {k: v for k, v in rules.items() if k != f"to-{removed['name']}"}
        # and adding it back, in the middle of the list, restores exactly what was there
        position = regions.index(removed)
        again = [*rest[:1], removed, *rest[1:]] if position != 1 else [rest[0], rest[-1], removed, *rest[1:-1]]
        restored, _ = converge(cr_with(again), defaults, smaller_observed)
        assert set(restored) == set(full)
        assert changed(full, restored) == set()


def test_reordering_regions_renders_the_same_bytes(defaults: RegionDefaults) -> None:
    forward, observed = converge(cr_with(REGIONS), defaults)
    backward, _ = converge(cr_with([REGIONS[0], *reversed(REGIONS[1:])]), defaults, observed)
    assert set(forward) == set(backward) and changed(forward, backward) == set()


def test_peer_nacl_rules_are_numbered_by_region_identity(defaults: RegionDefaults) -> None:
    rendered, _ = converge(cr_with(REGIONS), defaults)
    hub_rules = {m["spec"]["forProvider"]["cidrBlock"]: m["spec"]["forProvider"]["ruleNumber"]
                 for m in rendered.values() if m["kind"] == "NetworkACLRule" and region_of(m) == "us-east-1"
                 and "private-in" in m["metadata"]["name"]}
    for region in REGIONS[1:]:
        assert hub_rules[region["vpcCidr"]] == PEER_RULE_BASE + AWS_REGIONS[region["name"]]
    # every NACL field is ForceNew: no number of the old positional scheme (private 110..200) may return with
    # other contents, so none is used at all
    private = [m["spec"]["forProvider"]["ruleNumber"] for m in rendered.values() if m["kind"] == "NetworkACLRule"
               and "private" in m["metadata"]["name"]]
    assert not [n for n in private if 110 <= n <= 200]
    per_acl: dict[tuple[str, bool], list[int]] = {}
    for m in rendered.values():
        if m["kind"] == "NetworkACLRule":
            fp = m["spec"]["forProvider"]
            per_acl.setdefault((fp["networkAclIdRef"]["name"], fp["egress"]), []).append(fp["ruleNumber"])
    assert all(len(set(v)) == len(v) and max(v) <= NACL_RULE_NUMBER_MAX for v in per_acl.values())


# ------------------------------------------------------------------------------------ defaults under a live estate


def _defaults_with_zones(defaults: RegionDefaults, region: str, zones: list[str]) -> RegionDefaults:
    raw = defaults.model_dump(by_alias=True, exclude_none=True)
    raw["regions"][region]["availabilityZones"] = zones
    return parse_defaults(json.dumps(raw))


def test_a_defaults_zone_change_under_a_live_region_is_refused(defaults: RegionDefaults) -> None:
    cr = cr_with(REGIONS[:2])
    _, observed = converge(cr, defaults)
    moved = _defaults_with_zones(defaults, "us-east-2", ["us-east-2a", "us-east-2b", "us-east-2d"])
    with pytest.raises(SpecValidationError) as err:
        render(cr, moved, observed, FAKE_ARTIFACT)
    assert err.value.field == "spec.regions[1].availabilityZones"
    assert "us-east-2c" in err.value.rule and "us-east-2d" in err.value.rule
    # a region nothing exists of yet takes the new defaults
    assert render(cr, moved, Observed(), FAKE_ARTIFACT).resources
    # pinning the live zones in the CR is the documented way out
    pinned = cr_with([REGIONS[0], {**REGIONS[1], "availabilityZones": ["us-east-2a", "us-east-2b", "us-east-2c"]}])
    assert render(pinned, moved, observed, FAKE_ARTIFACT).resources


def test_reordered_zones_of_a_live_region_are_refused(defaults: RegionDefaults) -> None:
    cr = cr_with(REGIONS[:2])
    _, observed = converge(cr, defaults)
    swapped = cr_with([REGIONS[0], {**REGIONS[1], "availabilityZones": ["us-east-2b", "us-east-2a", "us-east-2c"]}])
    with pytest.raises(SpecValidationError) as err:
        render(swapped, defaults, observed, FAKE_ARTIFACT)
    assert err.value.field == "spec.regions[1].availabilityZones"


# --------------------------------------------------------------------------------------------------- failover


def _instance(rendered: dict[tuple[str, str], dict[str, Any]], region: str) -> dict[str, Any]:
    return next(m for m in rendered.values() if m["kind"] == "Instance" and region_of(m) == region)


@pytest.mark.parametrize("count", [2, 3])
def test_failover_changes_exactly_the_documented_mrs(defaults: RegionDefaults, count: int) -> None:
    regions = REGIONS[:count]
    before, observed = converge(cr_with(regions), defaults)
    failover = {"fromRegion": "us-east-1", "toRegion": "us-east-2"}
    step1, step1_observed = converge(cr_with(regions, failover=failover), defaults, observed)

    promoted = _instance(step1, "us-east-2")["spec"]["forProvider"]
    assert "replicateSourceDb" in _instance(before, "us-east-2")["spec"]["forProvider"]
    assert "replicateSourceDb" not in promoted
    assert promoted["backupRetentionPeriod"] > 0 and promoted["multiAz"] is True
    # nothing Terraform marks ForceNew (or that conflicts with a replica) is added to the promoted instance
    assert not {"username", "dbName", "engine", "allocatedStorage"} & set(promoted)
    esm = {region_of(m): m["spec"]["forProvider"]["enabled"] for m in step1.values()
           if m["kind"] == "EventSourceMapping"}
    assert esm == {r["name"]: r["name"] == "us-east-2" for r in regions}

    expected = {("Instance", _instance(before, "us-east-2")["metadata"]["name"])}
    expected |= {k for k, m in before.items() if m["kind"] == "EventSourceMapping" and region_of(m) in
                 ("us-east-1", "us-east-2")}
    expected |= {k for k, m in before.items() if m["kind"] == "Parameter" and "active-region" in k[1]}
    # the promoted region's bucket is no longer a replica: its policy stops reserving writes to the replication role
    promoted_bucket = [k for k, m in before.items() if m["kind"] == "BucketPolicy" and region_of(m) == "us-east-2"
                       and k[1].startswith("uploads-")]
    assert len(promoted_bucket) == 1
    assert "OnlyReplicationWritesReplicas" in before[promoted_bucket[0]]["spec"]["forProvider"]["policy"]
    assert "OnlyReplicationWritesReplicas" not in step1[promoted_bucket[0]]["spec"]["forProvider"]["policy"]
    expected |= set(promoted_bucket)
    if count > 2:  # S3 replication keeps its other destinations, without the new primary
        expected |= {k for k, m in before.items() if m["kind"] == "BucketReplicationConfiguration"
                     or (m["kind"] == "RolePolicy" and "replication" in k[1])}
        rule_ids = [r["id"] for m in step1.values() if m["kind"] == "BucketReplicationConfiguration"
                    for r in m["spec"]["forProvider"]["rule"]]
        assert rule_ids == ["to-us-west-2"]
        # the other secondary's replica keeps following the old primary (RDS cannot re-point a replica)
        assert _instance(step1, "us-west-2") == _instance(before, "us-west-2")
    else:  # nothing left to replicate to: the configuration and its role policy go
        gone = {k for k, m in before.items() if m["kind"] == "BucketReplicationConfiguration"
                or (m["kind"] == "RolePolicy" and "replication" in k[1])}
        assert gone and not gone & set(step1)
    assert changed(before, step1) == expected
    assert set(before) - set(step1) <= {k for k, m in before.items() if m["kind"] in
                                        ("BucketReplicationConfiguration", "RolePolicy")}

    # step 2: the primary moves to the promoted region; nothing is rendered differently
    moved = [{**r, "primary": r["name"] == "us-east-2"} for r in regions]
    step2, _ = converge(cr_with(moved, failover=failover), defaults, step1_observed)
    assert set(step2) == set(step1) and changed(step1, step2) == set()
    result = render(cr_with(moved, failover=failover), defaults, step1_observed, FAKE_ARTIFACT)
    assert result.failover is not None and result.failover.completed
    assert result.active_payments_region == "us-east-2"


def test_a_region_added_after_a_failover_replicates_the_new_primary(defaults: RegionDefaults) -> None:
    failover = {"fromRegion": "us-east-1", "toRegion": "us-east-2"}
    moved = [{**r, "primary": r["name"] == "us-east-2"} for r in REGIONS[:2]]
    _, observed = converge(cr_with(REGIONS[:2]), defaults)
    _, observed = converge(cr_with(moved, failover=failover), defaults, observed)
    grown, _ = converge(cr_with([*moved, REGIONS[2]], failover=failover), defaults, observed)
    source = _instance(grown, "us-west-2")["spec"]["forProvider"]["replicateSourceDb"]
    assert source.endswith(":db:" + _instance(grown, "us-east-2")["spec"]["forProvider"]["identifier"])


@pytest.mark.parametrize(("failover", "field"), [
    ({"fromRegion": "us-east-1", "toRegion": "us-east-1"}, "spec.failover.toRegion"),
    ({"fromRegion": "us-east-1", "toRegion": "eu-west-1"}, "spec.failover.toRegion"),
    ({"fromRegion": "us-east-2", "toRegion": "us-west-2"}, "spec.failover"),
])
def test_an_inconsistent_failover_is_refused_naming_the_field(defaults: RegionDefaults, failover: dict[str, str],
                                                              field: str) -> None:
    with pytest.raises(SpecValidationError) as err:
        render(cr_with(REGIONS[:3], failover=failover), defaults)
    assert err.value.field == field


def test_a_failover_without_replicas_is_refused(defaults: RegionDefaults) -> None:
    with pytest.raises(SpecValidationError) as err:
        render(cr_with(REGIONS[:2], failover={"fromRegion": "us-east-1", "toRegion": "us-east-2"},
                       database={"crossRegionReplica": False}), defaults)
    assert err.value.field == "spec.failover" and "crossRegionReplica" in err.value.rule

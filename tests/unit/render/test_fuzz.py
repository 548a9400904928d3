"""Fuzzing render() with broadly generated RegionalDeployment specs, valid and invalid.

The contract: render() either returns MRs that ALL pass strict validation against the provider CRDs (and are
plain JSON an API server accepts), or raises SpecValidationError naming a field. Never any other exception: a
KeyError, TypeError or AssertionError out of render() is a renderer bug, whatever the input.

Valid specs are also rendered fully observed (every MR reports plausible status, repeatedly, as conftest's
observe_all does), so the MRs that wait for provider values are validated too.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from regional_operator.aws_facts import FARGATE_SIZES, ISO_3166_ALPHA2, REGION_DIRECTION_CODES
from regional_operator.defaults import RegionDefaults, load_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.render import RenderResult, render
from regional_operator.render.observed import Observed
from regional_operator.spec import PRODUCTION_ENVIRONMENTS
from regional_operator.thresholds import THRESHOLD_KEYS

from tests.crdschema import validate_mr
from tests.unit.render.conftest import ACCOUNT_ID, PROD_CERTIFICATE_ARN, plausible_status, status_object
from tests.unit.render.test_golden import FAKE_ARTIFACT

DEFAULTS: RegionDefaults = load_defaults()
KNOWN_REGIONS = sorted(DEFAULTS.regions)  # zones and endpoints come from the defaults file
LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + "0123456789"
VALID_CERTIFICATE_ARN = PROD_CERTIFICATE_ARN

# --- leaves ----------------------------------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3)), max_leaves=6)


@st.composite
def pattern_regions(draw: st.DrawFn) -> str:
    gov = draw(st.sampled_from(["", "gov-"]))
    return (f"{draw(st.text(LOWER, min_size=2, max_size=2))}-{gov}"
            f"{draw(st.sampled_from(sorted(REGION_DIRECTION_CODES)))}-{draw(st.integers(1, 9))}")


region_names = st.one_of(
    st.sampled_from(KNOWN_REGIONS), pattern_regions(),
    st.sampled_from(["US-EAST-1", "us-east", "us-middle-1", "us-east-0", "useast1", "", "us-east-1 "]),
    st.text(max_size=20),
)


@st.composite
def cidrs(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["private", "private", "private", "any", "fixed", "host-bits", "junk"]))
    if kind == "private":
        block = draw(st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]))
        net = ipaddress.IPv4Network(block)
        prefix = draw(st.integers(max(16, net.prefixlen), 24))
        address = draw(st.integers(int(net.network_address), int(net.broadcast_address)))
        return str(ipaddress.IPv4Network((address, prefix), strict=False))
    if kind == "any":  # public, reserved, odd prefixes
        return str(ipaddress.IPv4Network((draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 32))), strict=False))
    if kind == "fixed":  # the same few often, so regions overlap
        return draw(st.sampled_from(["10.10.0.0/16", "10.20.0.0/16", "10.10.128.0/17", "10.0.0.0/8",
                                     "192.168.0.0/16", "172.16.0.0/24"]))
    if kind == "host-bits":
        return draw(st.sampled_from(["10.10.1.0/16", "10.0.0.1/24", "192.168.1.1/16"]))
    return draw(st.sampled_from(["fd00::/48", "10.10.0.0", "10.10.0.0/33", "10.300.0.0/16", "", "x/16",
                                 "10.10.0.0/16/1", " 10.10.0.0/16"]))


country_codes = st.one_of(st.sampled_from(sorted(ISO_3166_ALPHA2)), st.text(LOWER.upper(), min_size=2, max_size=2),
                          st.sampled_from(["us", "USA", "", "XX"]))
numbers = st.one_of(st.integers(-10, 10), st.integers(-(10**6), 10**13),
                    st.floats(min_value=-1e6, max_value=1e13, allow_nan=False, allow_infinity=False))


@st.composite
def region_entries(draw: st.DrawFn, name: str) -> dict[str, Any]:
    region: dict[str, Any] = {"name": name, "vpcCidr": draw(cidrs())}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "primary": st.booleans(),
        "availabilityZones": st.one_of(
            st.just([f"{name}{z}" for z in "abc"]), st.just([f"{name}a", f"{name}a", f"{name}b"]),
            st.just([f"{name}a", f"{name}b"]), st.lists(st.text(ALNUM + "-", max_size=14), max_size=4)),
        "wafBlockedCountries": st.lists(country_codes, max_size=6),
        "alarmThresholds": st.dictionaries(st.sampled_from([*THRESHOLD_KEYS, "bogusThreshold"]), numbers, max_size=4),
        "database": st.fixed_dictionaries({}, optional={
            "instanceClass": st.sampled_from(["db.t4g.medium", "db.r6g.large", "t4g.medium", "db.T4G.medium"]),
            "allocatedStorageGiB": st.integers(-5, 70000)}),
        "lambda": st.fixed_dictionaries({}, optional={
            "memoryMb": st.integers(0, 12000), "timeoutSeconds": st.integers(-1, 1000),
            "reservedConcurrency": st.integers(-2, 2000)}),
        "fargate": st.fixed_dictionaries({}, optional={
            "cpu": st.one_of(st.sampled_from(sorted(FARGATE_SIZES)), st.integers(-1, 20000)),
            "memory": st.one_of(st.sampled_from(sorted({m for ms in FARGATE_SIZES.values() for m in ms})),
                                st.integers(-1, 200000)),
            "desiredCount": st.integers(-2, 150)}),
        "paymentsApiEndpoint": st.sampled_from(["https://payments.example.com", "http://payments.example.com",
                                                "https://", "payments"]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            region[key] = draw(strategy)
    if name not in KNOWN_REGIONS and draw(st.integers(0, 3)):  # mostly make unknown regions complete
        region["availabilityZones"] = [f"{name}{z}" for z in "abc"]
        region["paymentsApiEndpoint"] = f"https://payments.{name}.example.com"
    return region


@st.composite
def region_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(region_names, min_size=0, max_size=12))
    if names and draw(st.integers(0, 4)) == 0:  # a duplicate
        names.append(draw(st.sampled_from(names)))
    regions = [draw(region_entries(n)) for n in names]
    how = draw(st.sampled_from(["one", "one", "one", "as drawn", "none", "all"]))
    if regions and how != "as drawn":
        chosen = draw(st.integers(0, len(regions) - 1))
        for i, r in enumerate(regions):
            r["primary"] = how == "all" or (how == "one" and i == chosen)
    return regions


@st.composite
def wild_specs(draw: st.DrawFn) -> Any:
    """Every field drawn from a mix of valid and invalid values: mostly refused, somewhere."""
    regions = draw(region_lists())
    region_names_drawn = [r["name"] for r in regions] or ["us-east-1"]
    spec: dict[str, Any] = {
        "environment": draw(st.one_of(st.just("prod"), st.sampled_from(["Prod", "", "a" * 33, "dev-1"]))),
        "environmentSuffix": draw(st.one_of(
            st.text(ALNUM, min_size=1, max_size=4),
            st.from_regex(r"[a-z0-9]([a-z0-9-]{0,24}[a-z0-9])?", fullmatch=True),
            st.sampled_from(["", "-x", "x-", "UP", "a_b", "a--b"]))),
        "awsAccountId": draw(st.one_of(st.just(ACCOUNT_ID), st.sampled_from(["12345678901", "abc", "1234567890123"]))),
        "costCenter": draw(st.one_of(st.just("cc-1"), st.sampled_from(["", "c" * 129]))),
        "regions": regions,
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "lifecycle": st.sampled_from(["Delete", "Retain", "Orphan", "delete"]),
        "providerConfigRef": st.fixed_dictionaries({}, optional={
            "kind": st.sampled_from(["ClusterProviderConfig", "ProviderConfig", "Other"]),
            "name": st.sampled_from(["default", "", "aws-prod"])}),
        "database": st.fixed_dictionaries({}, optional={
            "engineVersion": st.sampled_from(["16", "16.4", "sixteen", "16.4.1"]),
            "crossRegionReplica": st.booleans()}),
        "payments": st.fixed_dictionaries({}, optional={
            "activeRegion": st.one_of(st.sampled_from(region_names_drawn), st.just("mars-east-1"))}),
        "service": st.fixed_dictionaries({}, optional={
            "image": st.sampled_from(["public.ecr.aws/nginx/nginx:1.27", "",
                                      "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments-api:1.0"]),
            "containerPort": st.integers(-1, 70000),
            "healthCheckPath": st.sampled_from(["/healthz", "healthz", "/"])}),
        "edge": st.fixed_dictionaries({}, optional={
            "certificateArn": st.sampled_from(["arn:aws:acm:us-east-1:123456789012:certificate/abc",
                                               "arn:aws:iam::123456789012:server-certificate/x"])}),
        "uploads": st.fixed_dictionaries({}, optional={
            "noncurrentVersionExpirationDays": st.integers(-1, 400),
            "transitionToInfrequentAccessDays": st.integers(0, 400)}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            spec[key] = draw(strategy)
    if draw(st.integers(0, 20)) == 0:
        return draw(json_values)  # not even an object
    return spec


# Valid building blocks: every value here is one the CRD admits, combined at random.
FARGATE_PAIRS = sorted((cpu, mem) for cpu, mems in FARGATE_SIZES.items() for mem in mems)
positive = st.one_of(st.integers(1, 10**6), st.floats(min_value=0.001, max_value=1e12))
valid_optional: dict[str, st.SearchStrategy[Any]] = {
    "wafBlockedCountries": st.lists(st.sampled_from(sorted(ISO_3166_ALPHA2)), max_size=6),
    "alarmThresholds": st.dictionaries(
        st.sampled_from(THRESHOLD_KEYS), positive, max_size=4).map(
        lambda t: {k: (min(v, 100) if k in ("rdsCpuPercent", "rdsConnectionsPercentOfMax") else v)
                   for k, v in t.items()}),
    "database": st.fixed_dictionaries({}, optional={
        "instanceClass": st.sampled_from(["db.t4g.medium", "db.r6g.large", "db.m7g.2xlarge"]),
        "allocatedStorageGiB": st.integers(20, 65536)}),
    "lambda": st.fixed_dictionaries({}, optional={
        "memoryMb": st.integers(128, 10240), "timeoutSeconds": st.integers(1, 900),
        "reservedConcurrency": st.integers(0, 1000)}),
    "fargate": st.one_of(
        st.sampled_from(FARGATE_PAIRS).map(lambda p: {"cpu": p[0], "memory": p[1]}),
        st.fixed_dictionaries({"desiredCount": st.integers(0, 100)})),
}


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """2..10 distinct regions (from the defaults file or anywhere on the region pattern), disjoint private CIDRs,
    one primary, and random valid overrides."""
    count = draw(st.integers(2, 10))
    names = draw(st.lists(st.one_of(st.sampled_from(KNOWN_REGIONS), pattern_regions()), min_size=count,
                          max_size=count, unique=True))
    octets = draw(st.lists(st.integers(0, 255), min_size=count, max_size=count, unique=True))
    primary = draw(st.integers(0, count - 1))
    regions = []
    for i, (name, octet) in enumerate(zip(names, octets, strict=True)):
        block = draw(st.sampled_from([f"10.{octet}.0.0", f"10.{octet}.128.0"]))
        region: dict[str, Any] = {"name": name, "vpcCidr": f"{block}/{draw(st.integers(17, 24))}"}
        if i == primary:
            region["primary"] = True
        elif draw(st.booleans()):
            region["primary"] = False
        if name not in KNOWN_REGIONS or draw(st.booleans()):
            region["availabilityZones"] = [f"{name}{z}" for z in draw(st.permutations("abcdef"))[:3]]
        if name not in KNOWN_REGIONS or draw(st.integers(0, 3)) == 0:
            region["paymentsApiEndpoint"] = f"https://payments.{name}.example.com"
        for key, strategy in valid_optional.items():
            if draw(st.integers(0, 2)) == 0:
                region[key] = draw(strategy)
        if draw(st.integers(0, 2)) == 0:  # HTTPS: a certificate of the region's own (ACM certificates are regional)
            region["certificateArn"] = certificate_of(name)
        regions.append(region)
    spec: dict[str, Any] = {
        "environment": draw(st.from_regex(r"[a-z][a-z0-9-]{0,31}", fullmatch=True)),
        "environmentSuffix": draw(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)),
        "awsAccountId": draw(st.from_regex(r"[0-9]{12}", fullmatch=True)),
        "costCenter": draw(st.text(min_size=1, max_size=128)),
        "regions": regions,
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "lifecycle": st.sampled_from(["Delete", "Retain"]),
        "providerConfigRef": st.fixed_dictionaries({"kind": st.sampled_from(["ClusterProviderConfig",
                                                                              "ProviderConfig"]),
                                                    "name": st.sampled_from(["default", "aws-prod"])}),
        "database": st.fixed_dictionaries({"engineVersion": st.sampled_from(["16", "16.4", "15"]),
                                           "crossRegionReplica": st.booleans()}),
        "payments": st.fixed_dictionaries({"activeRegion": st.sampled_from(names)}),
        "service": st.fixed_dictionaries({}, optional={
            "image": st.sampled_from(["public.ecr.aws/nginx/nginx-unprivileged:1.27",
                                      "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments-api:1.0"]),
            "containerPort": st.integers(1, 65535),
            "healthCheckPath": st.sampled_from(["/healthz", "/", "/status/ready"])}),
        "edge": st.fixed_dictionaries({"certificateArn": st.just(certificate_of(names[primary]))}),
        "uploads": st.fixed_dictionaries({}, optional={
            "noncurrentVersionExpirationDays": st.integers(1, 3650),
            "transitionToInfrequentAccessDays": st.integers(30, 3650)}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            spec[key] = draw(strategy)
    if spec["environment"] in PRODUCTION_ENVIRONMENTS:  # production without a certificate is invalid input
        spec["edge"] = {"certificateArn": certificate_of(names[primary])}
    if "edge" in spec:  # the edge certificate serves the primary; every other region needs its own
        for region in regions:
            if not region.get("primary"):
                region.setdefault("certificateArn", certificate_of(region["name"]))
    return spec


def certificate_of(region: str) -> str:
    return f"arn:aws:acm:{region}:123456789012:certificate/0b7c1a5e"


# One fault each, on an otherwise valid spec: (name, function applying it).
def _fault_duplicate_region(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    spec["regions"].append({**spec["regions"][-1], "primary": False})


def _fault_overlapping_cidr(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    if len(spec["regions"]) < 2:  # another fault already cut the list to one region
        return
    a, b = draw(st.permutations(range(len(spec["regions"]))))[:2]
    spec["regions"][a]["vpcCidr"] = spec["regions"][b]["vpcCidr"]


def _fault_cidr(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    draw(st.sampled_from(spec["regions"]))["vpcCidr"] = draw(cidrs())


def _fault_threshold(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    region = draw(st.sampled_from(spec["regions"]))
    region.setdefault("alarmThresholds", {})[draw(st.sampled_from(THRESHOLD_KEYS))] = draw(
        st.sampled_from([0, -1, -0.5, 0.0, 101, "5", True, None]))


def _fault_fargate(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    draw(st.sampled_from(spec["regions"]))["fargate"] = draw(st.fixed_dictionaries({}, optional={
        "cpu": st.integers(0, 20000), "memory": st.integers(0, 130000), "desiredCount": st.integers(-1, 101)}))


def _fault_country(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    draw(st.sampled_from(spec["regions"]))["wafBlockedCountries"] = draw(st.lists(country_codes, min_size=1,
                                                                                  max_size=3))


def _fault_primary(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    value = draw(st.sampled_from([True, False, "true", 1]))
    for region in spec["regions"]:
        region["primary"] = value


def _fault_region_name(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    draw(st.sampled_from(spec["regions"]))["name"] = draw(region_names)


def _fault_region_count(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    spec["regions"] = spec["regions"][:1] if draw(st.booleans()) else [
        {**r, "name": f"zz-east-{i % 9 + 1}" if i else r["name"], "vpcCidr": f"10.{100 + i}.0.0/16",
         "availabilityZones": [f"zz-east-{i % 9 + 1}{z}" for z in "abc"] if i else r.get("availabilityZones")}
        for i, r in enumerate(spec["regions"] * 11)][:11]


def _fault_suffix(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    spec["environmentSuffix"] = draw(st.one_of(st.text(max_size=30), st.sampled_from(["a" * 13, "-a", "a-", "A"])))


def _fault_mutation(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    _mutate(draw, spec)  # an unknown field or a wrong type, anywhere


FAULTS = (_fault_duplicate_region, _fault_overlapping_cidr, _fault_cidr, _fault_threshold, _fault_fargate,
          _fault_country, _fault_primary, _fault_region_name, _fault_region_count, _fault_suffix, _fault_mutation)


@st.composite
def specs(draw: st.DrawFn) -> Any:
    """A third wild, two thirds valid specs of which half carry one to two faults."""
    if draw(st.integers(0, 2)) == 0:
        return draw(wild_specs())
    spec = draw(valid_specs())
    if draw(st.booleans()):
        faults = draw(st.lists(st.sampled_from(FAULTS), min_size=1, max_size=2))
        # the arbitrary mutation last: it may replace spec.regions, which the other faults index into
        for fault in sorted(faults, key=lambda f: f is _fault_mutation):
            fault(draw, spec)
    return spec


def _mutate(draw: st.DrawFn, node: Any) -> None:
    """Replace a random value (or add a random key) somewhere in `node` with an arbitrary JSON value."""
    while True:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            if draw(st.booleans()) or not isinstance(node[key], dict | list):
                if draw(st.booleans()):
                    node[key] = draw(json_values)
                else:
                    node[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
                return
            node = node[key]
        elif isinstance(node, list) and node:
            index = draw(st.integers(0, len(node) - 1))
            if draw(st.booleans()) or not isinstance(node[index], dict | list):
                node[index] = draw(json_values)
                return
            node = node[index]
        else:
            return


# --- the property --------------------------------------------------------------------------------------------------

INDEX = re.compile(r"\[\d+\]")
_checked: set[str] = set()  # MRs already validated (the observed render repeats the unobserved one's MRs)


def _problems(result: RenderResult) -> list[str]:
    problems: list[str] = []
    for mr in result.resources:
        text = json.dumps(mr, sort_keys=True, allow_nan=False)  # plain JSON, as the API server takes it
        if text not in _checked:
            problems += validate_mr(mr)
            _checked.add(text)
    return problems


def _observed_render(cr: dict[str, Any]) -> RenderResult:
    observed, seen = Observed(), -1
    for _ in range(8):
        result = render(cr, DEFAULTS, observed, FAKE_ARTIFACT)
        if len(result.resources) == seen:
            return result
        seen = len(result.resources)
        observed = Observed.from_objects(status_object(m["kind"], m["metadata"]["name"], **plausible_status(m))
                                         for m in result.resources)
    raise AssertionError("rendering did not converge")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.filter_too_much])
@given(spec=specs(), name=st.sampled_from(["payments", "p", "n" * 40, "n" * 41]))
def test_render_returns_valid_mrs_or_refuses_naming_a_field(spec: Any, name: str) -> None:
    cr = {"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
          "metadata": {"name": name, "namespace": "payments"}, "spec": spec}
    try:
        first = render(cr, DEFAULTS)
    except SpecValidationError as err:
        assert err.field.startswith(("spec", "metadata.name")), err.field
        assert err.rule
        event("refused: " + INDEX.sub("[]", err.field))
        return
    event(f"rendered: {len(spec['regions'])} regions")
    assert first.resources
    assert _problems(first) == []
    full = _observed_render(cr)
    assert full.pending == ()
    assert _problems(full) == []


def test_an_infinite_threshold_is_refused() -> None:
    cr = {"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
          "metadata": {"name": "payments", "namespace": "payments"},
          "spec": {"environment": "dev", "environmentSuffix": "prod", "awsAccountId": ACCOUNT_ID, "costCenter": "c",
                   "regions": [{"name": "us-east-1", "primary": True, "vpcCidr": "10.10.0.0/16",
                                "alarmThresholds": {"lambdaErrors": float("inf")}},
                               {"name": "us-east-2", "vpcCidr": "10.20.0.0/16"}]}}
    try:
        result = render(cr, DEFAULTS)
    except SpecValidationError as err:
        assert err.field == "spec.regions[0].alarmThresholds.lambdaErrors"
        return
    json.dumps(list(result.resources), allow_nan=False)  # raises ValueError: inf is not JSON

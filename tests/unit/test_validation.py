"""Validation in one place: the cross-field rules live in `validation.py`, and the alarm threshold keys are defined
once (`thresholds.py`) and used by the spec model, the CRD, the region defaults and the monitoring builder."""

from __future__ import annotations

import ast
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from regional_operator import thresholds
from regional_operator.defaults import load_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.render.monitoring import ALARMS
from regional_operator.spec import AlarmThresholds
from regional_operator.validation import check_disjoint_cidrs, check_unique_numbers, vpc_network

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "operator" / "regional_operator"


@dataclass(frozen=True)
class Placed:
    index: int
    name: str
    vpc_cidr: ipaddress.IPv4Network
    number: int


def test_the_spec_model_accepts_exactly_the_threshold_keys() -> None:
    aliases = {field.alias or name for name, field in AlarmThresholds.model_fields.items()}
    assert aliases == set(thresholds.ALL_THRESHOLD_KEYS)


def test_the_crd_lists_exactly_the_threshold_keys() -> None:
    crd = yaml.safe_load((REPO / "crds" / "platform.regional.io_regionaldeployments.yaml").read_text())
    region = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["regions"]
    properties = region["items"]["properties"]["alarmThresholds"]["properties"]
    assert set(properties) == set(thresholds.ALL_THRESHOLD_KEYS)


def test_the_region_defaults_set_every_required_key_and_nothing_else() -> None:
    defaults = load_defaults()
    common = defaults.common.model_dump(by_alias=True, exclude_none=True)["alarmThresholds"]
    assert set(common) == set(thresholds.THRESHOLD_KEYS)
    for region in defaults.regions.values():
        assert set(region.model_dump(by_alias=True, exclude_none=True).get("alarmThresholds") or {}) <= set(
            thresholds.ALL_THRESHOLD_KEYS)


def test_every_required_key_drives_an_alarm() -> None:
    assert {alarm.threshold for alarm in ALARMS} | {thresholds.DYNAMODB_REPLICATION_LATENCY_MS} == set(
        thresholds.THRESHOLD_KEYS)


# Checks that are not rules on the spec, each where its facts are.
NOT_SPEC_RULES = {
    "naming.py": ["_checked"],  # the Namer checks each name against its AWS limit as it makes it
    "render/__init__.py": ["_check_unique"],  # a builder invariant (an AssertionError), never user input
    "render/replacement.py": ["check_no_replacement"],  # an edit against the live MRs' observed values
    "render/context.py": ["_check_adopted_cidrs"],  # vpcCidr against the adopted VPC's reported CIDR
}


def test_no_other_module_holds_a_cross_field_rule() -> None:
    """The `_check_*` helpers that used to live in spec.py, defaults.py and render/context.py are gone: one place."""
    checks: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "validation.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith(
            ("_check", "check_"))]
        if found:
            checks[str(path.relative_to(PACKAGE))] = found
    assert checks == NOT_SPEC_RULES


@pytest.mark.parametrize(("cidr", "rule"), [
    ("10.0.0.1/16", "not a valid IPv4 CIDR"),
    ("10.0.0.0/12", "between /16 and /24"),
    ("10.0.0.0/26", "between /16 and /24"),
    ("8.8.0.0/16", "RFC 1918"),
])
def test_a_vpc_cidr_is_parsed_and_checked(cidr: str, rule: str) -> None:
    with pytest.raises(SpecValidationError) as err:
        vpc_network(cidr, 1)
    assert err.value.field == "spec.regions[1].vpcCidr" and rule in err.value.rule
    assert vpc_network("172.16.0.0/20", 0) == ipaddress.IPv4Network("172.16.0.0/20")


def test_overlapping_vpcs_and_shared_region_numbers_are_named() -> None:
    a = Placed(0, "us-east-1", ipaddress.IPv4Network("10.0.0.0/16"), 1)
    b = Placed(1, "us-east-2", ipaddress.IPv4Network("10.0.128.0/17"), 2)
    with pytest.raises(SpecValidationError) as err:
        check_disjoint_cidrs([a, b])
    assert err.value.field == "spec.regions[1].vpcCidr" and "overlaps 10.0.0.0/16" in err.value.rule
    c = Placed(1, "xx-east-9", ipaddress.IPv4Network("10.1.0.0/16"), 1)
    with pytest.raises(SpecValidationError) as err:
        check_unique_numbers([a, c])
    assert err.value.field == "spec.regions[1].name" and "already used by us-east-1" in err.value.rule
    check_disjoint_cidrs([a, c])  # disjoint: no error

"""The RegionalDeployment CRD, offline: structural, documented, bounded for CEL cost, and in lockstep with the code.

The pydantic model (operator/regional_operator/spec.py) is the source of truth for field names, types, bounds and
defaults; the AWS facts (country codes, Fargate sizes) and the naming rules (region pattern, suffix length) are
the source of truth for the lists the CRD repeats. Each test here fails on one kind of drift, and says how to fix it.
The same CRD is checked by a real API server in tests/cluster/test_crd_admission.py.
"""

from __future__ import annotations

import ast
import copy
import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_operator.aws_facts import AWS_REGIONS, FARGATE_SIZES, ISO_3166_ALPHA2, REGION_DIRECTION_CODES
from regional_operator.defaults import load_defaults
from regional_operator.naming import REGION_PATTERN, SUFFIX_PATTERN, max_suffix_length
from regional_operator.render import render
from regional_operator.spec import RegionalDeploymentSpec, parse_spec

from hack import gen_crd_reference

REPO = Path(__file__).resolve().parents[2]
CRD_PATH = REPO / "crds" / "platform.regional.io_regionaldeployments.yaml"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
CEL_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
# Keywords the pydantic JSON schema and the CRD's OpenAPI schema share; every one pydantic states must match.
CONSTRAINTS = ("pattern", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "minItems", "maxItems",
               "enum")


# ----------------------------------------------------------------------------------------------------- helpers


def load_crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text(encoding="utf-8"))


def root_schema() -> dict[str, Any]:
    return load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def at(path: str) -> dict[str, Any]:
    """The schema node at a dotted path; `[]` steps into list items (spec.regions[].fargate)."""
    node = root_schema()
    for part in path.split("."):
        items = part.endswith("[]")
        node = node["properties"][part.removesuffix("[]")]
        if items:
            node = node["items"]
    return node


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below (and including) `node`, with a readable path."""
    yield path or "(root)", node
    for name, child in (node.get("properties") or {}).items():
        yield from walk(child, f"{path}.{name}".lstrip("."))
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}.<key>")


def cel_rules() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(declared-at path, declaring node, rule) for every x-kubernetes-validations rule."""
    for path, node in walk(root_schema()):
        for rule in node.get("x-kubernetes-validations") or []:
            yield path, node, rule


def apply_crd_defaults(schema: dict[str, Any], value: Any) -> Any:
    """What the API server's structural defaulting does to `value` (in place), for offline comparison."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name, child in props.items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                apply_crd_defaults(props[name], item)
            elif isinstance(extra, dict):
                apply_crd_defaults(extra, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_crd_defaults(schema["items"], item)
    return value


def example(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return next(d for d in docs if d.get("kind") == "RegionalDeployment")


# ------------------------------------------------------------------------------------------- shape of the CRD


def test_crd_names_scope_version_and_subresources() -> None:
    crd = load_crd()
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "regionaldeployments.platform.regional.io"
    spec = crd["spec"]
    assert spec["group"] == "platform.regional.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "RegionalDeployment"
    assert spec["names"]["shortNames"] == ["rd"]
    assert spec["names"]["categories"] == ["regional"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_schema_is_structural() -> None:
    """Every node says its type (or is int-or-string / preserve-unknown); properties and additionalProperties
    never share a node; metadata restricts only name (all the API server allows)."""
    bad = []
    for path, node in walk(root_schema()):
        if "type" not in node and not node.get("x-kubernetes-int-or-string") \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            bad.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            bad.append(f"{path}: both properties and additionalProperties")
        if set(node) & {"$ref", "definitions", "oneOf", "anyOf", "allOf", "not"}:
            bad.append(f"{path}: uses a keyword structural schemas forbid at this level")
    assert not bad, bad
    assert set(at("metadata")) == {"type", "properties"}
    assert set(at("metadata")["properties"]) == {"name"}


def test_every_field_has_a_description() -> None:
    # metadata is the one node the API server forbids describing (it is the standard ObjectMeta).
    missing = [path for path, node in walk(root_schema()) if path != "metadata" and not node.get("description")]
    assert not missing, f"fields without a description (kubectl explain shows nothing for them): {missing}"


def test_descriptions_state_scalar_defaults() -> None:
    """kubectl explain prints descriptions and enums but not defaults, so the description has to say it."""
    missing = []
    for path, node in walk(root_schema()):
        value = node.get("default")
        if value is None or isinstance(value, dict):
            continue
        said = f"Default: {str(value).lower() if isinstance(value, bool) else value}"
        if said not in " ".join(node["description"].split()):
            missing.append(f"{path}: description lacks {said!r}")
    assert not missing, missing


def test_every_string_list_and_map_is_bounded() -> None:
    """CEL cost is estimated from maxLength/maxItems/maxProperties; an unbounded one makes the estimate explode.
    (metadata.name is bounded by the API server itself: a DNS subdomain, 253 characters.)"""
    unbounded = []
    for path, node in walk(root_schema()):
        if not path.startswith(("spec", "status")):
            continue
        kind = node.get("type")
        if kind == "string" and "maxLength" not in node and "enum" not in node and node.get("format") != "date-time":
            unbounded.append(f"{path}: string without maxLength")
        if kind == "array" and "maxItems" not in node:
            unbounded.append(f"{path}: array without maxItems")
        if kind == "object" and "additionalProperties" in node and "maxProperties" not in node:
            unbounded.append(f"{path}: map without maxProperties")
    assert not unbounded, unbounded


def test_printer_columns() -> None:
    (version,) = load_crd()["spec"]["versions"]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Ready", "Primary", "Resources", "Total", "Payments", "Reason", "Age"]
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Primary"]["jsonPath"] == ".spec.regions[?(@.primary==true)].name"
    assert columns["Resources"]["jsonPath"] == ".status.resources.ready"
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    assert at("status.resources.ready")["type"] == columns["Resources"]["type"] == "integer"


# ------------------------------------------------------------------------------------ lockstep with the code


def test_environment_suffix_follows_the_naming_module() -> None:
    node = at("spec.environmentSuffix")
    assert node["maxLength"] == max_suffix_length() == 12
    assert node["pattern"] == SUFFIX_PATTERN.pattern


def test_region_name_pattern_follows_the_naming_module() -> None:
    node = at("spec.regions[].name")
    assert node["pattern"] == re.sub(r"\(\?P<\w+>", "(", REGION_PATTERN.pattern)
    longest = len("xx-gov-") + max(map(len, REGION_DIRECTION_CODES)) + len("-9")
    assert node["maxLength"] == longest
    assert at("spec.payments.activeRegion")["maxLength"] == longest
    assert at("status.activePaymentsRegion")["maxLength"] == longest
    assert at("spec.regions[].availabilityZones[]")["maxLength"] == longest + 1
    crd_pattern = re.compile(node["pattern"])
    for region in load_defaults().regions:
        assert crd_pattern.match(region), region


def test_country_enum_is_exactly_iso_3166_alpha2() -> None:
    node = at("spec.regions[].wafBlockedCountries")
    enum = node["items"]["enum"]
    # Unquoted NO (Norway) is the YAML boolean false: every entry must have stayed a string.
    assert all(isinstance(code, str) for code in enum), [c for c in enum if not isinstance(c, str)]
    assert enum == sorted(ISO_3166_ALPHA2), (
        "the CRD's country enum differs from aws_facts.ISO_3166_ALPHA2; replace it with:\n"
        + ", ".join(f'"{c}"' for c in sorted(ISO_3166_ALPHA2)))
    assert node["maxItems"] == len(ISO_3166_ALPHA2)


def test_region_name_rule_lists_exactly_aws_facts() -> None:
    """The CEL list of region names is aws_facts.AWS_REGIONS, in order (a failing test prints the replacement)."""
    (rule,) = [r for r in at("spec.regions")["items"]["x-kubernetes-validations"] if r.get("fieldPath") == ".name"]
    listed = re.findall(r"'([a-z0-9-]+)'", rule["rule"])
    assert listed == list(AWS_REGIONS), "replace the CEL list with:\n" + ", ".join(f"'{r}'" for r in AWS_REGIONS)
    assert "allowUnlistedRegion" in rule["rule"]
    assert at("spec.regions[].allowUnlistedRegion")["default"] is False


def _fargate_rule() -> str:
    (rule,) = at("spec.regions[].fargate")["x-kubernetes-validations"]
    return str(rule["rule"])


def test_fargate_rule_table_is_exactly_aws_facts() -> None:
    rule = _fargate_rule()
    table = ast.literal_eval(re.search(r"\{.*\}", rule, re.DOTALL).group(0))  # type: ignore[union-attr]
    assert table == {cpu: list(memories) for cpu, memories in FARGATE_SIZES.items()}
    guard = ast.literal_eval(re.search(r"self\.cpu in (\[[^\]]*\])", rule).group(1))  # type: ignore[union-attr]
    assert guard == list(FARGATE_SIZES)
    assert at("spec.regions[].fargate.cpu")["enum"] == list(FARGATE_SIZES)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON-schema node without `X | None` wrapping and $ref indirection."""
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        assert len(options) == 1, node
        node = {**{k: v for k, v in node.items() if k != "anyOf"}, **options[0]}
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _crd_constraints(node: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI v3.0 says exclusiveMinimum as a flag on minimum; JSON Schema (pydantic) as the bound itself."""
    out = {k: node[k] for k in CONSTRAINTS if k in node}
    if out.pop("exclusiveMinimum", False):
        out["exclusiveMinimum"] = out.pop("minimum")
    return out


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def _compare(path: str, model: dict[str, Any], crd: dict[str, Any], defs: dict[str, Any], problems: list[str]) -> None:
    model = _resolve(model, defs)
    if model.get("type") != crd.get("type"):
        problems.append(f"{path}: type {crd.get('type')} in the CRD, {model.get('type')} in the model")
    want = {k: model[k] for k in CONSTRAINTS if k in model}
    have = _crd_constraints(crd)
    for key, value in want.items():
        if have.get(key) != value:
            problems.append(f"{path}: {key} is {have.get(key)!r} in the CRD, {value!r} in the model")
    model_default = _drop_none(model.get("default"))
    if isinstance(model_default, dict):
        crd_default = apply_crd_defaults(crd, copy.deepcopy(crd.get("default")))
        if crd_default != model_default:
            problems.append(f"{path}: default {crd_default!r} in the CRD (after nested defaults), {model_default!r}")
    elif crd.get("default") != model_default:
        problems.append(f"{path}: default {crd.get('default')!r} in the CRD, {model_default!r} in the model")
    if model.get("type") == "object":
        fields, props = set(model.get("properties") or {}), set(crd.get("properties") or {})
        if fields != props:
            problems.append(f"{path}: only in the model {sorted(fields - props)}, "
                            f"only in the CRD {sorted(props - fields)}")
        if set(model.get("required") or []) != set(crd.get("required") or []):
            problems.append(f"{path}: required {sorted(crd.get('required') or [])} in the CRD, "
                            f"{sorted(model.get('required') or [])} in the model")
        for name in sorted(fields & props):
            _compare(f"{path}.{name}", model["properties"][name], crd["properties"][name], defs, problems)
    if model.get("type") == "array":
        _compare(f"{path}[]", model["items"], crd["items"], defs, problems)


def test_spec_schema_matches_the_pydantic_model() -> None:
    """Same field names (the model's camelCase aliases), types, required fields, bounds, patterns, enums and
    defaults. The CRD may add bounds the model lacks (maxLength for CEL cost); it may not differ on the model's."""
    model = RegionalDeploymentSpec.model_json_schema(by_alias=True)
    problems: list[str] = []
    _compare("spec", model, at("spec"), model.get("$defs", {}), problems)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------------- CEL rules


def test_cel_rules_have_a_message_a_reason_and_report_the_field_they_check() -> None:
    schema = root_schema()
    for path, node, rule in cel_rules():
        assert rule.get("message"), f"{path}: {rule['rule']} has no message"
        assert rule.get("reason", "FieldValueInvalid") in CEL_REASONS, rule
        field = rule.get("fieldPath", "")
        if node.get("type") == "object":
            assert field, f"{path}: a rule on an object must say (fieldPath) which field it is about: {rule['rule']}"
            target = schema
            for part in f"{path}{field}".replace("[]", "").split("."):
                target = target.get("items", target)["properties"][part]
        reported = f"{path}{field}".replace("[]", "")
        assert reported.rsplit(".", 1)[-1] in rule["message"], f"message does not name {reported}: {rule['message']}"


def test_required_cel_rules_are_present() -> None:
    listed: dict[tuple[str, str], list[str]] = {}
    for path, _, rule in cel_rules():
        listed.setdefault((path, rule.get("fieldPath", "")), []).append(" ".join(rule["rule"].split()))
    rules = {key: found[0] for key, found in listed.items()}
    assert rules[("metadata.name", "")] == "self.size() <= 40"
    assert "self.regions.filter(r, r.primary).size() == 1" in listed[("spec", ".regions")]
    assert "self.regions.exists(r, r.name == self.payments.activeRegion)" in rules[("spec", ".payments.activeRegion")]
    assert "z.startsWith(self.name)" in rules[("spec.regions[]", ".availabilityZones")]
    assert ("spec.regions[].fargate", ".memory") in rules
    cidr_rules = [" ".join(r["rule"].split()) for r in at("spec.regions[].vpcCidr")["x-kubernetes-validations"]]
    assert cidr_rules[0] == "isCIDR(self)"
    assert any("cidr(self).ip().family() == 4" in r for r in cidr_rules)
    assert any("cidr(self).prefixLength() >= 16 && cidr(self).prefixLength() <= 24" in r for r in cidr_rules)
    assert any("masked()" in r for r in cidr_rules)
    rfc1918 = next(r for r in cidr_rules if "containsCIDR" in r)
    listed = re.findall(r"'([0-9./]+)'", rfc1918)
    assert [ipaddress.ip_network(n) for n in listed] == [ipaddress.ip_network(n) for n in
                                                        ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
    # Unique region names come from the list-map, not from CEL: the API server reports a Duplicate value for free.
    regions = at("spec.regions")
    assert (regions["x-kubernetes-list-type"], regions["x-kubernetes-list-map-keys"]) == ("map", ["name"])
    assert regions["items"]["required"][0] == "name"
    assert regions["maxItems"] == 10


# ------------------------------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_parses_and_renders(path: Path) -> None:
    cr = example(path)
    assert len(cr["metadata"]["name"]) <= 40
    parse_spec(cr["spec"])
    result = render(cr, load_defaults())
    assert result.resources
    assert set(result.by_region()) == {r["name"] for r in cr["spec"]["regions"]}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_crd_defaults_equal_the_model_defaults(path: Path) -> None:
    """What the API server stores (the example plus the CRD's defaults) is what the model parses it into."""
    spec = example(path)["spec"]
    defaulted = apply_crd_defaults(at("spec"), copy.deepcopy(spec))
    assert defaulted == parse_spec(spec).model_dump(by_alias=True, exclude_none=True)


def test_examples_are_the_documented_topologies() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"two-region.yaml", "three-region.yaml"} <= names
    want = {"us-east-1": "10.10.0.0/16", "us-east-2": "10.20.0.0/16", "us-west-2": "10.30.0.0/16"}
    for name, regions in (("two-region.yaml", 2), ("three-region.yaml", 3)):
        cr = example(REPO / "examples" / name)
        assert cr["metadata"]["namespace"] == "payments"
        got = {r["name"]: r["vpcCidr"] for r in cr["spec"]["regions"]}
        assert got == dict(list(want.items())[:regions])
        assert [r["name"] for r in cr["spec"]["regions"] if r.get("primary")] == ["us-east-1"]


def ten_regions() -> dict[str, Any]:
    """The largest deployment the CRD admits: 10 regions, zones and endpoints given where the defaults lack them."""
    names = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1",
             "eu-north-1", "ap-southeast-1", "ap-northeast-1"]
    regions: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        region: dict[str, Any] = {"name": name, "vpcCidr": f"10.{10 * (i + 1)}.0.0/16"}
        if i == 0:
            region["primary"] = True
        if name not in load_defaults().regions:
            region["availabilityZones"] = [f"{name}{z}" for z in "abc"]
            region["paymentsApiEndpoint"] = f"https://payments.{name}.api.example.com"
        regions.append(region)
    return {"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
            "metadata": {"name": "ten-regions", "namespace": "payments"},
            "spec": {"environment": "prod", "environmentSuffix": "prod", "awsAccountId": "123456789012",
                     "costCenter": "cc-payments-001",
                     "regions": [{**r, "certificateArn": f"arn:aws:acm:{r['name']}:123456789012:certificate/ten"}
                                 for r in regions]}}


def test_ten_regions_render() -> None:
    cr = ten_regions()
    assert len(cr["spec"]["regions"]) == at("spec.regions")["maxItems"]
    assert len(render(cr, load_defaults()).by_region()) == 10


# ----------------------------------------------------------------------------------------------- reference doc


def test_reference_doc_is_up_to_date() -> None:
    committed = gen_crd_reference.DOC_PATH.read_text(encoding="utf-8")
    assert committed == gen_crd_reference.render_reference(), (
        "docs/crd-reference.md is stale: run `python -m hack.gen_crd_reference`")

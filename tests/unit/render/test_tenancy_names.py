"""Two RegionalDeployments never render the same AWS identity (issue 13, tenancy: AWS names).

IAM names are unique in the account, S3 bucket names in the partition, and most other names (tables, functions,
queues, topics, alarms, clusters, parameters, log groups, aliases, DB identifiers, WAF ACLs, load balancers,
target groups, Cloud Map namespaces) in the account and region. For the kinds the provider identifies by name,
a second deployment rendering a first one's name would silently adopt, overwrite and later delete its resource.
So every deployment's names carry a token of its identity (namespace/name), and this test renders many
deployments (same name in different namespaces, different names with one suffix, different suffixes) with the
real renderer and asserts that no identity is shared between two of them.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from regional_operator.defaults import RegionDefaults
from regional_operator.errors import SpecValidationError
from regional_operator.naming import NAME_TEMPLATES, Namer, binding_template, max_suffix_length
from regional_operator.render import render
from regional_operator.render.context import EXTERNAL_NAME
from regional_operator.render.observed import Observed

from tests.unit.render.conftest import (
    REGION_US_EAST_1,
    REGION_US_EAST_2,
    REGION_US_WEST_2,
    TWO_REGION_CR,
    plausible_status,
    status_object,
)
from tests.unit.render.test_golden import FAKE_ARTIFACT

NAMESPACES = ("payments", "team-a", "team-b", "team-c")
CR_NAMES = ("payments", "payments-eu", "checkout", "ledger", "api", "web")
SUFFIXES = ("prod", "prod-global", "dev")

# forProvider fields that carry a name AWS keeps unique (ParameterGroup.family is an engine family, not a name).
NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "*": ("name", "identifier", "functionName", "roleName", "clusterName", "alarmName", "tableName", "bucket"),
    "TaskDefinition": ("family",),
}
# (kind, field) that is not unique in the account or region: an engine family; a Cloud Map service name is unique
# only within its Cloud Map namespace (whose name carries the token, and is collected as the namespace's name)
NOT_A_NAME: frozenset[tuple[str, str]] = frozenset({("ParameterGroup", "family"), ("Service", "name")})
# kinds whose names are unique in the whole account (IAM) or partition (S3), not per region
ACCOUNT_WIDE_GROUPS: frozenset[str] = frozenset({"iam.aws.m.upbound.io"})
PARTITION_WIDE_KINDS: frozenset[tuple[str, str]] = frozenset({("s3.aws.m.upbound.io", "Bucket")})


def make_cr(regions: int, suffix: str, namespace: str, name: str) -> dict[str, Any]:
    cr = copy.deepcopy(TWO_REGION_CR)
    cr["metadata"] = {"namespace": namespace, "name": name}
    cr["spec"]["regions"] = copy.deepcopy([REGION_US_EAST_1, REGION_US_EAST_2, REGION_US_WEST_2][:regions])
    cr["spec"]["environmentSuffix"] = suffix
    return cr


def deployments() -> list[dict[str, Any]]:
    """24 CRs, one per (namespace, name): the same name in every namespace, several names with one suffix in one
    namespace, and all three suffixes; 2 and 3 regions."""
    out = []
    for i, (namespace, cr_name) in enumerate(itertools.product(NAMESPACES, CR_NAMES)):
        out.append(make_cr(3 if i % 2 else 2, SUFFIXES[i % len(SUFFIXES)], namespace, cr_name))
    return out


def identities(mr: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(scope, group/kind, field, name) of every AWS identity an MR claims: its external name (Crossplane defaults
    a missing one to metadata.name, so that counts too) and its name-like forProvider fields."""
    group = mr["apiVersion"].split("/")[0]
    kind = mr["kind"]
    fp = mr["spec"].get("forProvider", {})
    if group in ACCOUNT_WIDE_GROUPS or (group, kind) in PARTITION_WIDE_KINDS:
        scope = "global"
    else:
        scope = str(fp.get("region", "global"))
    external = mr["metadata"].get("annotations", {}).get(EXTERNAL_NAME, mr["metadata"]["name"])
    yield scope, f"{group}/{kind}", "external-name", external
    for field in NAME_FIELDS["*"] + NAME_FIELDS.get(kind, ()):
        value = fp.get(field)
        if isinstance(value, str) and (kind, field) not in NOT_A_NAME:
            yield scope, f"{group}/{kind}", field, value


@pytest.fixture(scope="module")
def rendered(defaults: RegionDefaults) -> dict[str, tuple[dict[str, Any], ...]]:
    """Every deployment fully rendered (every dependent present: all status observed, the Lambda artifact set)."""
    out: dict[str, tuple[dict[str, Any], ...]] = {}
    for cr in deployments():
        observed = Observed()
        seen = -1
        for _ in range(8):
            result = render(cr, defaults, observed, FAKE_ARTIFACT)
            if len(result.resources) == seen:
                break
            seen = len(result.resources)
            observed = Observed.from_objects(status_object(m["kind"], m["metadata"]["name"], **plausible_status(m))
                                             for m in result.resources)
        assert result.pending == (), f"{cr['metadata']} left dependents pending: {result.pending[:3]}"
        out[f"{cr['metadata']['namespace']}/{cr['metadata']['name']}"] = result.resources
    return out


def test_the_fleet_covers_every_kind_of_pair(rendered: dict[str, tuple[dict[str, Any], ...]]) -> None:
    """At least 20 deployments; same name in two namespaces; two names with one suffix in one namespace."""
    assert len(rendered) >= 20
    fleet = deployments()
    same_suffix_one_namespace = defaultdict(set)
    for cr in fleet:
        same_suffix_one_namespace[(cr["metadata"]["namespace"], cr["spec"]["environmentSuffix"])].add(
            cr["metadata"]["name"])
    assert any(len(names) >= 2 for names in same_suffix_one_namespace.values())
    assert {cr["spec"]["environmentSuffix"] for cr in fleet} == set(SUFFIXES)
    by_name = defaultdict(set)
    for key in rendered:
        namespace, name = key.split("/")
        by_name[name].add(namespace)
    assert all(len(namespaces) >= 2 for namespaces in by_name.values())
    assert len({key.split("/")[0] for key in rendered}) == len(NAMESPACES)


def test_no_two_deployments_share_an_aws_identity(rendered: dict[str, tuple[dict[str, Any], ...]]) -> None:
    owner: dict[tuple[str, str, str, str], str] = {}
    collisions = []
    counted = 0
    for deployment, resources in rendered.items():
        for mr in resources:
            for identity in set(identities(mr)):
                counted += 1
                first = owner.setdefault(identity, deployment)
                if first != deployment:
                    collisions.append(f"{identity} in {first} and {deployment}")
    assert counted > 20 * 100, "the identities collected are too few to mean anything"
    assert collisions == [], f"{len(collisions)} shared AWS identities, e.g. {collisions[:5]}"


def test_identities_cover_the_name_identified_kinds(rendered: dict[str, tuple[dict[str, Any], ...]]) -> None:
    """The collision test looks at every kind the issue names (an identity extractor that found nothing would
    make it pass vacuously)."""
    kinds = {identity[1].split("/")[1] for resources in rendered.values() for mr in resources
             for identity in identities(mr)}
    for kind in ("Role", "Function", "Table", "Queue", "Topic", "MetricAlarm", "Cluster", "Parameter", "Group",
                 "Alias", "Bucket", "Instance", "WebACL", "LB", "LBTargetGroup", "PrivateDNSNamespace"):
        assert kind in kinds, f"no {kind} identity collected"


def test_two_deployments_in_one_namespace_share_no_mr_name(
        rendered: dict[str, tuple[dict[str, Any], ...]]) -> None:
    """The MR's Kubernetes name is its AWS name, so it differs too: two deployments in one namespace never
    write the same object."""
    owner: dict[tuple[str, str, str, str], str] = {}
    for deployment, resources in rendered.items():
        namespace = deployment.split("/")[0]
        for mr in resources:
            key = (namespace, mr["apiVersion"], mr["kind"], mr["metadata"]["name"])
            first = owner.setdefault(key, deployment)
            assert first == deployment, f"{key} rendered by {first} and {deployment}"


def test_every_template_fits_its_limit_at_the_longest_suffix() -> None:
    """max_suffix_length() is derived from the templates with the token; the ALB name is the binding one."""
    longest = "a" * max_suffix_length()
    namer = Namer(longest, "ns", "n")
    for template in NAME_TEMPLATES:
        namer.named(template, "ap-gov-southwest-8")  # the longest region code; raises if a limit is exceeded
    assert binding_template() == "alb"
    with pytest.raises(SpecValidationError, match="elbv2-lb limit of 32"):
        Namer(longest + "a", "ns", "n")


def test_the_token_is_in_every_name_the_namer_makes() -> None:
    namer = Namer("prod", "payments", "payments")
    assert namer.regional("vpc", "us-east-1").endswith(f"-use1-{namer.token}")
    assert namer.global_("sessions") == f"sessions-prod-{namer.token}"
    assert Namer("prod", "other", "payments").token != namer.token


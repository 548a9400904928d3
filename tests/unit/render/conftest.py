"""Shared fixtures for renderer tests: example RegionalDeployment CRs, rendering, and faked provider status.

Append new fixtures at the end; several test modules (data stores, service/edge/monitoring) share this file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from regional_operator.defaults import RegionDefaults, load_defaults
from regional_operator.render import RenderResult, names, render
from regional_operator.render.context import RenderContext
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_spec

from devtools.stand_in import ACCOUNT_ID, plausible_status

PROD_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def certificate_of(region: str) -> str:
    """An ACM certificate ARN of `region` (certificates are regional: each region's ALB needs one of its own)."""
    return f"arn:aws:acm:{region}:{ACCOUNT_ID}:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


# production needs a certificate in every region (CEL and parse_spec): the fixtures render the secure shape
REGION_US_EAST_1 = {"name": "us-east-1", "primary": True, "vpcCidr": "10.10.0.0/16",
                    "certificateArn": certificate_of("us-east-1")}
REGION_US_EAST_2 = {"name": "us-east-2", "vpcCidr": "10.20.0.0/16", "certificateArn": certificate_of("us-east-2")}
REGION_US_WEST_2 = {"name": "us-west-2", "vpcCidr": "10.30.0.0/16", "certificateArn": certificate_of("us-west-2")}

TWO_REGION_CR: dict[str, Any] = {
    "apiVersion": "platform.regional.io/v1alpha1",
    "kind": "RegionalDeployment",
    "metadata": {"name": "payments", "namespace": "payments-prod"},
    "spec": {
        "environment": "prod",
        "environmentSuffix": "prod",
        "costCenter": "cc-1234",
        "awsAccountId": ACCOUNT_ID,
        "regions": [REGION_US_EAST_1, REGION_US_EAST_2],
    },
}

CrFactory = Callable[..., dict[str, Any]]


def without_certificates(cr: dict[str, Any]) -> dict[str, Any]:
    """The CR with no certificate anywhere (the fixtures give every region one): a test environment's shape."""
    for region in cr["spec"]["regions"]:
        region.pop("certificateArn", None)
    cr["spec"].pop("edge", None)
    return cr


@pytest.fixture(scope="session")
def defaults() -> RegionDefaults:
    return load_defaults()


@pytest.fixture
def make_cr() -> CrFactory:
    """make_cr(regions=3, lifecycle="Retain", database={...}) -> a fresh CR; keyword args merge into spec."""

    def factory(regions: int = 2, **spec: Any) -> dict[str, Any]:
        cr = copy.deepcopy(TWO_REGION_CR)
        cr["spec"]["regions"] = copy.deepcopy([REGION_US_EAST_1, REGION_US_EAST_2, REGION_US_WEST_2][:regions])
        cr["spec"].update(copy.deepcopy(spec))
        return cr

    return factory


@pytest.fixture
def two_region_cr(make_cr: CrFactory) -> dict[str, Any]:
    return make_cr(2)


@pytest.fixture
def three_region_cr(make_cr: CrFactory) -> dict[str, Any]:
    return make_cr(3)


@pytest.fixture
def context_for(defaults: RegionDefaults) -> Callable[[dict[str, Any]], RenderContext]:
    """A RenderContext for a CR, to compute expected names with render.names (never hand-written names)."""

    def factory(cr: dict[str, Any]) -> RenderContext:
        meta = cr["metadata"]
        return RenderContext(parse_spec(cr["spec"]), defaults, namespace=meta["namespace"], name=meta["name"],
                             observed=Observed())

    return factory


def status_object(kind: str, name: str, **at_provider: Any) -> dict[str, Any]:
    """An MR as the API server returns it once the provider reported `status.atProvider` and Ready/Synced."""
    conditions = [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]
    return {"kind": kind, "metadata": {"name": name}, "status": {"atProvider": at_provider, "conditions": conditions}}


@pytest.fixture
def observed_from() -> Callable[[Iterable[tuple[str, str, dict[str, Any]]]], Observed]:
    """observed_from([(kind, name, atProvider), ...]) -> Observed."""

    def factory(entries: Iterable[tuple[str, str, dict[str, Any]]]) -> Observed:
        return Observed.from_objects(status_object(kind, name, **at) for kind, name, at in entries)

    return factory


@pytest.fixture
def render_cr(defaults: RegionDefaults) -> Callable[..., RenderResult]:
    def factory(cr: dict[str, Any], observed: Observed | None = None) -> RenderResult:
        return render(cr, defaults, observed)

    return factory


# --- data stores (database, sessions, uploads) -------------------------------------------------------------------


def fake_key_arn(region: str, key_name: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_name}-0000"


def fake_db_arn(region: str, identifier: str) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{identifier}"


@pytest.fixture
def data_store_observed(context_for: Callable[[dict[str, Any]], RenderContext]) -> Callable[..., Observed]:
    """data_store_observed(cr, keys=True, primary_db=True, versioning=True): the provider has reported every
    region's KMS key ARN, the primary database ARN and/or every uploads bucket's versioning as Ready."""

    def factory(cr: dict[str, Any], *, keys: bool = True, primary_db: bool = True,
                versioning: bool = True) -> Observed:
        ctx = context_for(cr)
        objs = []
        if keys:
            objs += [status_object("Key", names.kms_key(ctx, r), arn=fake_key_arn(r.name, names.kms_key(ctx, r)))
                     for r in ctx.regions]
        if primary_db:
            db = names.database(ctx, ctx.primary)
            objs.append(status_object("Instance", db, arn=fake_db_arn(ctx.primary.name, db)))
        if versioning:
            objs += [status_object("BucketVersioning", names.uploads_bucket(ctx, r)) for r in ctx.regions]
        return Observed.from_objects(objs)

    return factory


def of_component(result: RenderResult, component: str) -> list[dict[str, Any]]:
    return [m for m in result.resources if m["metadata"]["labels"]["platform.regional.io/component"] == component]


def one(resources: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [m for m in resources if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


@pytest.fixture
def observe_all(defaults: RegionDefaults) -> Callable[[dict[str, Any]], Observed]:
    """observe_all(cr) -> an Observed in which every MR the CR renders has plausible status, repeating render and
    observation until nothing new appears (dependents of dependents), so the next render is complete."""

    def factory(cr: dict[str, Any]) -> Observed:
        observed = Observed()
        seen = -1
        for _ in range(8):
            result = render(cr, defaults, observed)
            if len(result.resources) == seen:
                break
            seen = len(result.resources)
            observed = Observed.from_objects(
                status_object(mr["kind"], mr["metadata"]["name"], **plausible_status(mr)) for mr in result.resources
            )
        return observed

    return factory

"""The renderer: one RegionalDeployment (+ region defaults + observed provider state) -> Crossplane v2 MRs.

Pure and deterministic: no I/O, no clock, no randomness, so the operator and the `render` CLI produce the same
bytes from the same inputs (one source of truth, as with `crossplane render`). The RenderResult is the one
contract with the reconcile wing: besides the MRs it carries every fact status reports (regions and their codes,
the active payments region, the alarm thresholds in force, what is pending where, where outputs are read), so
status never re-derives them from names or labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..artifact import LambdaArtifact
from ..defaults import RegionDefaults
from ..spec import Deployment, parse_deployment
from ..validation import check_production
from . import (
    database,
    edge,
    endpoints,
    keys,
    links,
    logging,
    monitoring,
    names,
    network,
    payments,
    service,
    sessions,
    uploads,
)
from .adoption import Adopted, Blocked
from .context import LABEL_REGION, Pending, RenderContext
from .observed import Observed
from .outputs import OutputSource, output_sources
from .replacement import check_no_replacement

Builder = Callable[[RenderContext], list[dict[str, Any]]]


class BuilderModule(Protocol):
    """A builder: a module with `build(ctx)` and the `COMPONENT` label its MRs (and its pending items) carry."""

    @property
    def COMPONENT(self) -> str: ...  # the module constant

    @property
    def build(self) -> Builder: ...


# Order matters only for readability of the output (foundations first); the operator applies all at once.
BUILDERS: tuple[BuilderModule, ...] = (
    network, keys, links, database, sessions, uploads, payments, service, edge, monitoring, logging, endpoints,
)


@dataclass(frozen=True)
class Failover:
    """What a declared failover (spec.failover) involves, for the status: the regions and the two databases."""

    from_region: str
    to_region: str
    old_database: str
    new_database: str
    completed: bool  # spec.regions already names toRegion as primary (step 2 done)


def failover_of(ctx: RenderContext) -> Failover | None:
    failover = ctx.spec.failover
    if failover is None or ctx.promoted is None:
        return None
    return Failover(failover.from_region, failover.to_region, names.database(ctx, ctx.primary),
                    names.database(ctx, ctx.promoted), ctx.spec.primary.name == failover.to_region)


@dataclass(frozen=True)
class RegionInfo:
    """One region of the deployment as status reports it."""

    name: str
    code: str
    primary: bool


@dataclass(frozen=True)
class RenderResult:
    resources: tuple[dict[str, Any], ...]
    pending: tuple[Pending, ...]
    regions: tuple[RegionInfo, ...] = ()
    active_payments_region: str = ""
    # region -> alarm name -> threshold, for every alarm rendered (status.alarmThresholds)
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    outputs: tuple[OutputSource, ...] = ()
    failover: Failover | None = None
    # Adoption (spec.regions[].adopt): every adopted MR by (kind, name), and what adopted resources must change
    # before something that depends on them can be rendered (status: Stalled, naming it).
    adopted: Mapping[tuple[str, str], Adopted] = field(default_factory=dict)
    blocked: tuple[Blocked, ...] = ()

    def by_region(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for res in self.resources:
            out.setdefault(res["metadata"]["labels"][LABEL_REGION], []).append(res)
        return out


def render(deployment: Deployment | Mapping[str, Any], defaults: RegionDefaults, observed: Observed | None = None,
           artifact: LambdaArtifact | None = None) -> RenderResult:
    """Render every MR of a RegionalDeployment: the typed model the edge parsed (spec.parse_deployment), or, for
    callers that hold only the object (tests, benchmarks), the object itself, parsed here.

    Raises SpecValidationError (naming the field) for input the CRD could not refuse on its own. Without an
    `artifact` the Lambda code object and function are left out (reported as pending).
    """
    if not isinstance(deployment, Deployment):
        deployment = parse_deployment(deployment)
    ctx = RenderContext(deployment.spec, defaults, namespace=deployment.namespace, name=deployment.name,
                        observed=observed or Observed(), artifact=artifact)
    check_production(deployment.spec)
    resources: list[dict[str, Any]] = []
    pending: list[Pending] = []
    for builder in BUILDERS:
        resources.extend(builder.build(ctx))
        pending.extend(_tagged(ctx, builder.COMPONENT, ctx.pending[len(pending):]))
    _check_unique(resources)
    check_no_replacement(ctx, resources)
    return RenderResult(
        tuple(resources), tuple(pending),
        regions=tuple(RegionInfo(r.name, r.code, r.primary) for r in ctx.regions),
        active_payments_region=deployment.spec.active_payments_region,
        thresholds=_thresholds_in_force(resources),
        outputs=output_sources(ctx, resources),
        failover=failover_of(ctx),
        adopted=_adopted_rendered(ctx, resources),
        blocked=tuple(ctx.blocked),
    )


def _adopted_rendered(ctx: RenderContext, resources: list[dict[str, Any]]) -> dict[tuple[str, str], Adopted]:
    """The adoption of every rendered MR, by (kind, name) as the operator's index keys MRs."""
    rendered = {(res["apiVersion"].split(".")[0] + "/" + res["kind"], res["metadata"]["name"]) for res in resources}
    return {(key.split("/", 1)[1], name): a for (key, name), a in ctx.adopted.items() if (key, name) in rendered}


def _tagged(ctx: RenderContext, component: str, items: list[Pending]) -> list[Pending]:
    """Pending items of one builder with the region their name was made for and the builder's component."""
    return [dataclasses.replace(p, region=p.region or ctx.names.region_of.get(p.name),
                                component=p.component or component) for p in items]


def _thresholds_in_force(resources: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per region and alarm name, the threshold each rendered MetricAlarm carries: what the defaults and the CR
    resolved to, as AWS will evaluate it (an alarm still waiting for observed state is not in force yet)."""
    out: dict[str, dict[str, float]] = {}
    for res in resources:
        if res["kind"] == "MetricAlarm":
            region = res["metadata"]["labels"][LABEL_REGION]
            out.setdefault(region, {})[res["metadata"]["name"]] = float(res["spec"]["forProvider"]["threshold"])
    return out


def _check_unique(resources: list[dict[str, Any]]) -> None:
    """(kind, name) is unique, not just (apiVersion/kind, name): observed state and the operator's index key MRs
    by kind and name (ecs and servicediscovery both have a `Service`)."""
    seen: set[tuple[str, str]] = set()
    for res in resources:
        key = (res["kind"], res["metadata"]["name"])
        if key in seen:
            raise AssertionError(f"renderer produced {key} twice")  # a builder bug, never user input
        seen.add(key)

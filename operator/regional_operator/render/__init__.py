"""The renderer: one RegionalDeployment (+ region defaults + observed provider state) -> Crossplane v2 MRs.

Pure and deterministic: no I/O, no clock, no randomness, so the operator and the `render` CLI produce the same
bytes from the same inputs (one source of truth, as with `crossplane render`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..artifact import LambdaArtifact
from ..defaults import RegionDefaults
from ..errors import SpecValidationError
from ..spec import parse_spec
from . import database, edge, keys, links, monitoring, names, network, payments, service, sessions, uploads
from .context import MAX_CR_NAME, Pending, RenderContext
from .observed import Observed
from .replacement import check_no_replacement

Builder = Callable[[RenderContext], list[dict[str, Any]]]

# Order matters only for readability of the output (foundations first); the operator applies all at once.
BUILDERS: tuple[Builder, ...] = (
    network.build, keys.build, links.build, database.build, sessions.build, uploads.build, payments.build,
    service.build, edge.build, monitoring.build,
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
class RenderResult:
    resources: tuple[dict[str, Any], ...]
    pending: tuple[Pending, ...]
    active_payments_region: str = ""
    failover: Failover | None = None

    def by_region(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for res in self.resources:
            out.setdefault(res["metadata"]["labels"]["platform.regional.io/region"], []).append(res)
        return out


def render(cr: Mapping[str, Any], defaults: RegionDefaults, observed: Observed | None = None,
           artifact: LambdaArtifact | None = None) -> RenderResult:
    """Render every MR of a RegionalDeployment object (apiVersion/kind/metadata/spec).

    Raises SpecValidationError (naming the field) for input the CRD could not refuse on its own. Without an
    `artifact` the Lambda code object and function are left out (reported as pending).
    """
    meta = cr.get("metadata") or {}
    if len(str(meta.get("name") or "")) > MAX_CR_NAME:
        raise SpecValidationError("metadata.name", f"must be at most {MAX_CR_NAME} characters")
    spec = parse_spec(cr.get("spec"))
    ctx = RenderContext(spec, defaults, namespace=str(meta.get("namespace") or "default"),
                        name=str(meta.get("name") or ""), observed=observed or Observed(), artifact=artifact)
    resources: list[dict[str, Any]] = []
    for build in BUILDERS:
        resources.extend(build(ctx))
    _check_unique(resources)
    check_no_replacement(ctx, resources)
    return RenderResult(tuple(resources), tuple(ctx.pending), spec.active_payments_region, failover_of(ctx))


def _check_unique(resources: list[dict[str, Any]]) -> None:
    """(kind, name) is unique, not just (apiVersion/kind, name): observed state and the operator's index key MRs
    by kind and name (ecs and servicediscovery both have a `Service`)."""
    seen: set[tuple[str, str]] = set()
    for res in resources:
        key = (res["kind"], res["metadata"]["name"])
        if key in seen:
            raise AssertionError(f"renderer produced {key} twice")  # a builder bug, never user input
        seen.add(key)

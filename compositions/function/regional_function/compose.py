"""One composition pass, pure: the XR and the observed composed resources in, everything Crossplane needs out.

The same calls the operator's reconcile pass makes, in the same order: render() the MRs (observed state from the
composed resources' status.atProvider), assess() them with the operator's readiness rule, conditions_for() and
outputs_for() for the composite's status. What differs is only what Crossplane does instead of the operator:
it applies the desired resources and owns the XR's Ready/Synced conditions, and deletion order is held by Usages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from regional_operator.artifact import LambdaArtifact
from regional_operator.defaults import RegionDefaults
from regional_operator.identity import KIND, key_of
from regional_operator.readiness import condition, readiness
from regional_operator.reconcile.conditions import READY, RECONCILING, STALLED, Condition
from regional_operator.reconcile.status import assess, conditions_for, outputs_for
from regional_operator.render import render
from regional_operator.render.kinds import BY_API_KIND
from regional_operator.render.observed import Observed
from regional_operator.spec import parse_deployment

from .usages import USAGE_API_VERSION, USAGE_KIND, usages

# Conditions Crossplane owns on an XR (Ready from composed readiness, Synced from the pipeline), and the kstatus
# pair the operator adds for GitOps tools, which Crossplane's Ready/Synced already stand for on an XR.
NOT_MIRRORED: Final = frozenset({READY, "Synced", RECONCILING, STALLED})
# The XR's spec field Crossplane itself adds (compositionRef, compositionUpdatePolicy, resourceRefs, ...).
CROSSPLANE_SPEC_FIELD: Final = "crossplane"


@dataclass(frozen=True)
class DesiredResource:
    """One composed resource: its composition resource name, the object, and whether it is ready."""

    name: str
    resource: dict[str, Any]
    ready: bool


@dataclass(frozen=True)
class Composition:
    resources: tuple[DesiredResource, ...]
    conditions: tuple[Condition, ...]
    warnings: tuple[str, ...]
    status: dict[str, Any]
    ready: bool  # the operator's Ready: every MR fresh-ready and no dependent pending


def resource_name(obj: Mapping[str, Any]) -> str:
    """The composition resource name of a composed object: `<kind>-<name>`, lowercased kind. Unique because the
    renderer keeps (kind, name) unique and no kind has a hyphen."""
    return f"{str(obj['kind']).lower()}-{obj['metadata']['name']}"


def as_regional_deployment(xr: Mapping[str, Any]) -> dict[str, Any]:
    """The XR as the renderer's input: the same spec (the XRD is generated from the CRD) without Crossplane's
    own `spec.crossplane`, named and namespaced like the XR."""
    meta = xr.get("metadata") or {}
    spec = xr.get("spec")
    if isinstance(spec, Mapping):  # anything else is refused by parse_deployment, naming `spec`
        spec = {k: v for k, v in spec.items() if k != CROSSPLANE_SPEC_FIELD}
    return {"apiVersion": xr.get("apiVersion"), "kind": KIND,
            "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")}, "spec": spec}


def _is_mr(obj: Mapping[str, Any]) -> bool:
    return (str(obj.get("apiVersion")), str(obj.get("kind"))) in BY_API_KIND


def _usage_ready(obj: Mapping[str, Any] | None) -> bool:
    """A Usage is in force once Crossplane's usage controller marked it Available (Ready=True)."""
    cond = condition(obj, "Ready") if obj is not None else None
    return cond is not None and cond.get("status") == "True"


def compose(xr: Mapping[str, Any], observed: Iterable[Mapping[str, Any]], defaults: RegionDefaults,
            artifact: LambdaArtifact | None) -> Composition:
    """Desired composed resources, XR conditions, warnings and status for one XR.

    Raises SpecValidationError (naming the field) for a spec the operator refuses; the caller turns it into a
    fatal result, which leaves every composed resource as it is - as the operator's Stalled does.
    """
    cr = as_regional_deployment(xr)
    observed_objects = list(observed)
    mrs = [o for o in observed_objects if _is_mr(o)]
    observed_state = Observed.from_objects(mrs)
    deployment = parse_deployment(cr)  # the edge parses once; render() takes the typed model
    result = render(deployment, defaults, observed_state, artifact)
    live = {key_of(o): o for o in mrs}
    observed_usages = {str(o["metadata"]["name"]): o for o in observed_objects
                       if (o.get("apiVersion"), o.get("kind")) == (USAGE_API_VERSION, USAGE_KIND)}

    desired = list(result.resources)
    assessment = assess(desired, live, {})
    conds = conditions_for(result, assessment)
    ready = conds.is_true(READY)

    out: list[DesiredResource] = []
    for obj in desired:
        current = live.get(key_of(obj))
        out.append(DesiredResource(resource_name(obj), obj, current is not None and readiness(current)[0]))
    # Dependencies copied from observed values are all listed by a render that observes nothing.
    unobserved = render(deployment, defaults, Observed(), artifact).pending
    for usage in usages(desired, unobserved, observed_state, deployment.name):
        out.append(DesiredResource(resource_name(usage), usage,
                                   _usage_ready(observed_usages.get(usage["metadata"]["name"]))))

    status = {
        "resources": {"ready": assessment.ready, "total": assessment.total},
        "pending": [str(p) for p in result.pending],
        "outputs": outputs_for(result, live),
        "alarmThresholds": result.thresholds,
        "activePaymentsRegion": result.active_payments_region,
        "defaultsVersion": defaults.version,
    }
    return Composition(
        resources=tuple(out),
        conditions=tuple(c for c in conds if c.type not in NOT_MIRRORED),
        warnings=tuple(f"pending: {p}" for p in result.pending),
        status=status,
        ready=ready,
    )

"""Shared helpers of the composition-function tests: the examples as XRs, fully observed MRs, normalising what
Crossplane adds to composed resources."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from regional_operator.artifact import LambdaArtifact, load_artifact
from regional_operator.defaults import RegionDefaults, load_defaults
from regional_operator.render import render
from regional_operator.render.observed import Observed

from tests.unit.render.conftest import plausible_status

REPO = Path(__file__).resolve().parents[3]
COMPOSITIONS = REPO / "compositions"
APIS = COMPOSITIONS / "apis"
EXAMPLES = {name: REPO / "examples" / f"{name}.yaml" for name in ("two-region", "three-region")}
XR_API_VERSION = "platform.regional.io/v1alpha1"
XR_KIND = "XRegionalDeployment"
# What Crossplane adds to every composed resource (crossplane render's SetComposedResourceMetadata, the same as
# the composition controller's RenderComposedResourceMetadata): the controller owner reference to the XR, the
# crossplane.io/composite label and the crossplane.io/composition-resource-name annotation.
CROSSPLANE_LABELS = ("crossplane.io/composite",)
CROSSPLANE_ANNOTATIONS = ("crossplane.io/composition-resource-name",)


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLES[name].read_text())
    return doc


def as_xr(cr: Mapping[str, Any]) -> dict[str, Any]:
    """The RegionalDeployment as the composition's XR: same spec, the XRD's kind."""
    xr = copy.deepcopy(dict(cr))
    xr["apiVersion"], xr["kind"] = XR_API_VERSION, XR_KIND
    return xr


def defaults() -> RegionDefaults:
    return load_defaults()


def artifact() -> LambdaArtifact:
    return load_artifact()


def healthy(mr: Mapping[str, Any], generation: int = 1) -> dict[str, Any]:
    """`mr` as the provider leaves it once created: plausible atProvider, Ready and Synced True at its generation."""
    obj = copy.deepcopy(dict(mr))
    obj["metadata"]["generation"] = generation
    conds = [{"type": t, "status": "True", "reason": r, "observedGeneration": generation,
              "lastTransitionTime": "2026-01-01T00:00:00Z"} for t, r in (("Ready", "Available"),
                                                                        ("Synced", "ReconcileSuccess"))]
    obj["status"] = {"atProvider": plausible_status(obj), "conditions": conds}
    return obj


def observed_all(cr: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every MR the CR renders, created and healthy (rendering again until no new dependent appears)."""
    objects: list[dict[str, Any]] = []
    seen = -1
    for _ in range(8):
        result = render(cr, defaults(), Observed.from_objects(objects), artifact())
        if len(result.resources) == seen:
            break
        seen = len(result.resources)
        objects = [healthy(mr) for mr in result.resources]
    return objects


def normalised(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A composed resource without what Crossplane legitimately adds (owner reference, composition label and
    annotation), and without status (an input, not a desired field)."""
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    meta = out["metadata"]
    meta.pop("ownerReferences", None)
    for key, names in (("labels", CROSSPLANE_LABELS), ("annotations", CROSSPLANE_ANNOTATIONS)):
        for name in names:
            (meta.get(key) or {}).pop(name, None)
        if key in meta and not meta[key]:
            del meta[key]
    return out


def by_key(objects: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(str(o["apiVersion"]), str(o["kind"]), str(o["metadata"]["name"])): dict(o) for o in objects}

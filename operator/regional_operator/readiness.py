"""The one readiness rule for a live MR: Synced and Ready both True, and both speaking for the MR's current
metadata.generation (a condition written for an older generation says nothing about the spec just applied).

Status, the gauges and the tests all judge MRs by this rule; the renderer never does (it reads only
status.atProvider values, see render.observed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def readiness(obj: Mapping[str, Any]) -> tuple[bool, str]:
    """(fresh-ready, why-not). Fresh = Ready and Synced True at the MR's current generation."""
    generation = obj["metadata"].get("generation")
    for kind in ("Synced", "Ready"):
        cond = condition(obj, kind)
        if cond is None:
            return False, f"no {kind} condition yet"
        if cond.get("status") != "True":
            detail = f": {cond['message']}" if cond.get("message") else ""
            return False, f"{kind}={cond.get('status')} {cond.get('reason', '')}{detail}".strip()
        observed = cond.get("observedGeneration")
        if observed is not None and generation is not None and observed != generation:
            return False, f"{kind} is for generation {observed}, not {generation}"
    return True, ""

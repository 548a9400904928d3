"""Pure facts about one MR - its key, its kind, its deletion tier, whether it is fresh-ready - with no API client
behind them, so the composition function (no kopf, no API client) judges them exactly as the operator does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..render.context import LABEL_TIER
from ..render.kinds import BY_API_KIND, Kind

MRKey = tuple[str, str]  # (kind, metadata.name) - names are unique per kind within a namespace
MAX_LISTED: Final = 5  # MRs named in one status message or event before "and N more"


def key_of(obj: Mapping[str, Any]) -> MRKey:
    return str(obj["kind"]), str(obj["metadata"]["name"])


def kind_of(obj: Mapping[str, Any]) -> Kind:
    return BY_API_KIND[(str(obj["apiVersion"]), str(obj["kind"]))]


def tier_of(obj: Mapping[str, Any]) -> int:
    labels = obj["metadata"].get("labels") or {}
    return int(labels.get(LABEL_TIER, kind_of(obj).tier))


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

"""Where a live MR lives: its entry in the kinds table, its REST location, its deletion tier; and where our own
RegionalDeployment lives. Apply, prune and delete need these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..identity import GROUP, PLURAL, VERSION
from ..kube import ResourceRef
from ..render.context import LABEL_TIER
from ..render.kinds import BY_API_KIND, Kind

CR_REF: Final = ResourceRef(f"{GROUP}/{VERSION}", PLURAL)


def kind_of(obj: Mapping[str, Any]) -> Kind:
    return BY_API_KIND[(str(obj["apiVersion"]), str(obj["kind"]))]


def ref_of(obj: Mapping[str, Any]) -> ResourceRef:
    k = kind_of(obj)
    return ResourceRef(k.api_version, k.plural)


def tier_of(obj: Mapping[str, Any]) -> int:
    labels = obj["metadata"].get("labels") or {}
    return int(labels.get(LABEL_TIER, kind_of(obj).tier))

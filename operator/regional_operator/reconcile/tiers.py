"""A live MR's entry in the kinds table and its deletion tier, with no API client behind them: apply, prune and
delete order by this rule, and so does the composition function (which imports neither kopf nor the API client)
when it turns the tier table into Usages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..render.context import LABEL_TIER
from ..render.kinds import BY_API_KIND, Kind


def kind_of(obj: Mapping[str, Any]) -> Kind:
    return BY_API_KIND[(str(obj["apiVersion"]), str(obj["kind"]))]


def tier_of(obj: Mapping[str, Any]) -> int:
    labels = obj["metadata"].get("labels") or {}
    return int(labels.get(LABEL_TIER, kind_of(obj).tier))

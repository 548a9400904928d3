"""Drift: does a live MR still hold what we render? A hash of what we applied (cheap, notices removed fields) and a
subset comparison of the fields we set (others may be added by the provider's late initialization or API
defaults)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def content_hash(obj: Mapping[str, Any]) -> str:
    """Hash of what we apply (without the hash annotation itself), to notice removed fields cheaply."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def is_subset(desired: Any, live: Any) -> bool:
    """True when every field we set has our value in the live object (others may add fields: the provider's
    late initialization, API defaults). Lists must match item by item."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        return all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
    if isinstance(desired, float) and isinstance(live, int | float):
        return float(live) == desired
    return bool(desired == live)

"""One helper for status conditions, as the Kubernetes API conventions say (metav1.Condition): setting a condition
to the status it already has keeps its lastTransitionTime, so a status that did not change is byte-identical and
no write (and no watch event) happens."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 1024


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool | None  # None = Unknown
    reason: str
    message: str = ""

    @property
    def status_text(self) -> str:
        return "Unknown" if self.status is None else ("True" if self.status else "False")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(existing: Iterable[Mapping[str, Any]], wanted: Iterable[Condition], generation: int,
                     timestamp: str | None = None) -> list[dict[str, Any]]:
    """The new condition list; lastTransitionTime moves only when a condition's status changes."""
    previous = {c.get("type"): c for c in existing}
    out: list[dict[str, Any]] = []
    for cond in wanted:
        old = previous.get(cond.type)
        changed = old is None or old.get("status") != cond.status_text
        out.append({
            "type": cond.type,
            "status": cond.status_text,
            "reason": cond.reason,
            "message": cond.message[:MAX_MESSAGE],
            "observedGeneration": generation,
            "lastTransitionTime": (timestamp or now()) if changed or old is None else old["lastTransitionTime"],
        })
    return out

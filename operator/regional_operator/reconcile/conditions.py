"""Status conditions by type, as crossplane-runtime's SetConditions and cluster-api's conditions package keep them.

A condition is found and replaced by its type, never by its position in the list. Writing follows the Kubernetes
API conventions (metav1.Condition): setting a condition to the status it already has keeps its
lastTransitionTime, so a status that did not change is byte-identical and no write (and no watch event) happens.
Ready, Reconciling and Stalled follow kstatus: Reconciling and Stalled are derived from the Ready judgement.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

MAX_MESSAGE: Final = 1024
MAX_LISTED: Final = 5  # MRs named in one status message before "and N more"
READY: Final = "Ready"
RECONCILING: Final = "Reconciling"
STALLED: Final = "Stalled"
# Ready False with this reason: an MR we render exists under another controller and is left alone
CONFLICT: Final = "Conflict"
_STATUS_TEXT: Final = {True: "True", False: "False", None: "Unknown"}


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool | None  # None = Unknown
    reason: str
    message: str = ""

    @property
    def status_text(self) -> str:
        return _STATUS_TEXT[self.status]

    @classmethod
    def from_api(cls, stored: Mapping[str, Any]) -> Condition:
        """A condition as stored in an object's status (status "True"/"False"/"Unknown")."""
        status = {"True": True, "False": False}.get(str(stored.get("status")))
        return cls(str(stored["type"]), status, str(stored.get("reason", "")), str(stored.get("message", "")))


class Conditions:
    """An ordered set of conditions, one per type: set() replaces a type where it stands or appends a new one."""

    def __init__(self, conditions: Iterable[Condition] = ()) -> None:
        self._by_type: dict[str, Condition] = {}
        self.set(*conditions)

    @classmethod
    def from_api(cls, stored: Iterable[Mapping[str, Any]]) -> Conditions:
        return cls(Condition.from_api(c) for c in stored)

    def set(self, *conditions: Condition) -> None:
        for cond in conditions:
            self._by_type[cond.type] = cond

    def get(self, type_: str) -> Condition | None:
        return self._by_type.get(type_)

    def is_true(self, type_: str) -> bool:
        cond = self._by_type.get(type_)
        return cond is not None and cond.status is True

    def keep_others(self, stored: Iterable[Mapping[str, Any]]) -> Conditions:
        """These conditions, then every stored condition of another type as it was (for passes that judge only a
        few types, such as an invalid spec or a deletion step, which leave the MRs and so their conditions alone)."""
        out = Conditions(self)
        out.set(*(c for c in Conditions.from_api(stored) if c.type not in self._by_type))
        return out

    def __iter__(self) -> Iterator[Condition]:
        return iter(self._by_type.values())

    def __len__(self) -> int:
        return len(self._by_type)


def kstatus(ready: Condition, progress: str = "") -> Conditions:
    """Ready and the Reconciling/Stalled pair it implies when nothing is stuck: not Ready yet means still
    reconciling (`progress` says how far), Ready means converged. Stalled is set by whoever knows what is stuck."""
    return Conditions([
        ready,
        Condition(RECONCILING, not ready.status, "Progressing" if not ready.status else "Converged",
                  progress if not ready.status else ""),
        Condition(STALLED, False, "NoErrors"),
    ])


def stuck(reason: str, ready_message: str, stalled_message: str, reconciling_message: str = "") -> Conditions:
    """Ready False, Reconciling False, Stalled True for one reason: retrying will not help until something changes
    (an invalid spec, MRs the API server refuses), so GitOps tools stop waiting."""
    return Conditions([Condition(READY, False, reason, ready_message),
                       Condition(RECONCILING, False, reason, reconciling_message),
                       Condition(STALLED, True, reason, stalled_message)])


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(existing: Iterable[Mapping[str, Any]], wanted: Iterable[Condition], generation: int,
                     timestamp: str | None = None) -> list[dict[str, Any]]:
    """The new condition list, in the order of `wanted`; lastTransitionTime moves only when a condition's status
    changes (a condition whose reason or message alone changed keeps its time)."""
    previous = {c.get("type"): c for c in existing}
    out: list[dict[str, Any]] = []
    for cond in wanted:
        old = previous.get(cond.type) or {}
        kept = old.get("lastTransitionTime") if old.get("status") == cond.status_text else None
        out.append({
            "type": cond.type,
            "status": cond.status_text,
            "reason": cond.reason,
            "message": cond.message[:MAX_MESSAGE],
            "observedGeneration": generation,
            "lastTransitionTime": kept or timestamp or now(),
        })
    return out


def conflict_message(conflicts: Mapping[tuple[str, str], str]) -> str:
    """The MRs (kind/name) that exist under another controller, each with who controls it: never applied over."""
    items = sorted(conflicts.items())
    shown = "; ".join(f"{kind}/{name} is controlled by {who}" for (kind, name), who in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return (f"{len(items)} managed resources exist under another controller and are left alone: {shown}"
            + (f"; and {more} more" if more > 0 else "")
            + ". Delete or rename them, or give this RegionalDeployment another name")

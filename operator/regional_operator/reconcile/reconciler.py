"""One reconcile pass of a RegionalDeployment: render from spec + observed MRs, apply what differs, prune what
is no longer wanted, write status only if it changed. Level-based: the result depends only on the current spec
and the MRs' current state, so a missed or duplicated event, or a restart, converges to the same place."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..artifact import LambdaArtifact
from ..errors import SpecValidationError
from ..kube import KubeClient
from ..naming import region_code
from ..render import render
from ..render.observed import Observed
from .apply import ApplyReport, apply_all, prune, with_ownership
from .conditions import Condition, merge_conditions
from .defaults_store import DefaultsStore
from .resources import CR_REF, MRKey, key_of
from .status import (
    Assessment,
    assess,
    conditions_for,
    outputs_for,
    stalled_conditions,
    threshold_summary,
    thresholds_in_force,
)


@dataclass
class Operator:
    """Process-wide collaborators of every reconcile."""

    client: KubeClient
    defaults: DefaultsStore
    artifact: LambdaArtifact | None
    apply_concurrency: int = 16
    # Progress-only status changes (counts, the problem list, messages) are written at most this often per
    # deployment; anything a client acts on (a condition's status or reason, observedGeneration, outputs) at once.
    # While deployments converge, their ready counts change on nearly every pass: written each time, status
    # patches grow with deployments x time to converge (paced, 100 deployments made 844 while converging).
    status_progress_interval: float = 5.0
    status_written_at: dict[tuple[str, str], float] = field(default_factory=dict)

    def forget(self, namespace: str, name: str) -> None:
        self.status_written_at.pop((namespace, name), None)


@dataclass
class Outcome:
    ready: bool = False
    stalled: str | None = None
    report: ApplyReport = field(default_factory=ApplyReport)
    assessment: Assessment | None = None
    status_written: bool = False
    # seconds until a progress-only status change that was held back may be written (None: nothing held back)
    status_deferred: float | None = None
    pending: int = 0


async def reconcile(op: Operator, cr: Mapping[str, Any], live_mrs: Sequence[dict[str, Any]]) -> Outcome:
    meta = cr["metadata"]
    generation = int(meta.get("generation") or 0)
    current_status: Mapping[str, Any] = cr.get("status") or {}
    outcome = Outcome()
    live: dict[MRKey, dict[str, Any]] = {key_of(o): o for o in live_mrs}
    op.defaults.refresh()
    try:
        result = render(cr, op.defaults.current, Observed.from_objects(live_mrs), op.artifact)
    except SpecValidationError as err:
        # Never touch what exists: a bad edit must not take down healthy infrastructure.
        outcome.stalled = f"{err.field}: {err.rule}"
        status = {**_copy(current_status), "observedGeneration": generation,
                  "conditions": merge_conditions(current_status.get("conditions") or [],
                                                 _keep_others(current_status, stalled_conditions(err.field, err.rule)),
                                                 generation)}
        outcome.status_written = await _write_status(op, cr, status)
        return outcome

    desired = [with_ownership(o, cr) for o in result.resources]
    report = await apply_all(op.client, desired, live, concurrency=op.apply_concurrency)
    wanted = {key_of(o) for o in desired} | {(p.kind, p.name) for p in result.pending}
    unwanted = [o for k, o in live.items() if k not in wanted]
    await prune(op.client, report, unwanted)
    outcome.report = report
    outcome.pending = len(result.pending)

    regions = {r["name"]: region_code(r["name"]) for r in cr["spec"]["regions"]}
    thresholds = thresholds_in_force(desired)
    # Judge readiness on the MRs as they are after this pass's applies: a changed MR has a new generation its
    # conditions do not speak for yet, so the deployment is not Ready until the provider has caught up.
    live = {**live, **report.returned}
    a = assess(desired, live, report.errors)
    outcome.assessment = a
    if report.errors:
        first = next(iter(report.errors.items()))
        conds = [Condition("Ready", False, "ApplyFailed", f"{first[0][0]}/{first[0][1]}: {first[1]}"),
                 Condition("Reconciling", False, "ApplyFailed"),
                 Condition("Stalled", True, "ApplyFailed", f"{len(report.errors)} MRs refused by the API server: "
                           f"{first[0][0]}/{first[0][1]}: {first[1]}")]
        conds += conditions_for(regions, a, result.pending, threshold_summary(thresholds))[3:]
    else:
        conds = conditions_for(regions, a, result.pending, threshold_summary(thresholds))
    if report.prune_waiting or report.pruned:
        conds[1] = Condition("Reconciling", True, "Pruning",
                             f"deleting {len(report.pruned) + len(report.prune_waiting)} MRs no longer rendered")
        conds[0] = Condition("Ready", False, "Pruning", conds[1].message) if conds[0].status else conds[0]
    outcome.ready = bool(conds[0].status)
    status = {
        "observedGeneration": generation,
        "conditions": merge_conditions(current_status.get("conditions") or [], conds, generation),
        "resources": {"ready": a.ready, "total": a.total},
        "pending": [str(p) for p in result.pending],
        "outputs": outputs_for(list(regions), desired, live),
        "alarmThresholds": thresholds,
        "activePaymentsRegion": cr["spec"].get("payments", {}).get("activeRegion") or next(
            r["name"] for r in cr["spec"]["regions"] if r.get("primary")),
        "defaultsVersion": op.defaults.current.version,
    }
    changed = _changed_keys(cr, status)
    if not changed:
        return outcome
    wait = _progress_wait(op, cr, status, changed)
    if wait > 0:
        outcome.status_deferred = wait
        return outcome
    await _patch_status(op, cr, status)
    outcome.status_written = True
    return outcome


def _significant(cond: Mapping[str, Any]) -> tuple[Any, ...]:
    return cond.get("type"), cond.get("status"), cond.get("reason")


PROGRESS_ONLY = frozenset({"conditions", "resources", "pending"})


def _progress_wait(op: Operator, cr: Mapping[str, Any], status: Mapping[str, Any], changed: set[str]) -> float:
    """Seconds to hold back this status (whose `changed` keys differ from the stored one), or 0 to write it now."""
    meta = cr["metadata"]
    last = op.status_written_at.get((str(meta["namespace"]), str(meta["name"])))
    remaining = 0.0 if last is None else last + op.status_progress_interval - time.monotonic()
    if remaining <= 0 or not changed or changed - PROGRESS_ONLY:
        return 0.0
    before = [_significant(c) for c in (cr.get("status") or {}).get("conditions") or []]
    after = [_significant(c) for c in status["conditions"]]
    return remaining if before == after else 0.0


def _copy(status: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(status))


def _keep_others(status: Mapping[str, Any], conds: list[Condition]) -> list[Condition]:
    """On a Stalled spec, keep the other conditions as they were (they describe the MRs, which we left alone)."""
    mine = {c.type for c in conds}
    kept = [Condition(c["type"], {"True": True, "False": False}.get(c["status"]), c.get("reason", ""),
                      c.get("message", "")) for c in status.get("conditions") or [] if c.get("type") not in mine]
    return conds + kept


def _normalise(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _changed_keys(cr: Mapping[str, Any], status: Mapping[str, Any]) -> set[str]:
    """The keys of `status` whose value differs from what is stored on the CR."""
    current = _normalise(cr.get("status") or {})
    return {k for k, v in status.items() if current.get(k) != _normalise(v)}


async def _patch_status(op: Operator, cr: Mapping[str, Any], status: dict[str, Any]) -> None:
    meta = cr["metadata"]
    await op.client.patch_status(CR_REF, meta["namespace"], meta["name"], status)
    op.status_written_at[(str(meta["namespace"]), str(meta["name"]))] = time.monotonic()


async def _write_status(op: Operator, cr: Mapping[str, Any], status: dict[str, Any]) -> bool:
    """Patch status only when it differs from what is stored: no churn, no needless watch events."""
    if not _changed_keys(cr, status):
        return False
    await _patch_status(op, cr, status)
    return True


async def report_deletion(op: Operator, cr: Mapping[str, Any], message: str) -> None:
    """While the finalizer holds the CR, status says what deletion waits for (kind/name of the MRs)."""
    current: Mapping[str, Any] = cr.get("status") or {}
    generation = int(cr["metadata"].get("generation") or 0)
    conds = [Condition("Ready", False, "Deleting", message), Condition("Reconciling", True, "Deleting", message)]
    merged = merge_conditions(current.get("conditions") or [], _keep_others(current, conds), generation)
    await _write_status(op, cr, {"conditions": merged})

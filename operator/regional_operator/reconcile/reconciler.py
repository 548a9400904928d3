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
from ..defaults_store import DefaultsStore
from ..errors import SpecValidationError
from ..identity import MRKey, key_of
from ..kube import KubeClient
from ..render import render
from ..render.observed import Observed
from ..spec import parse_deployment
from .apply import ApplyReport, ControllerLookup, apply_all, prune, with_ownership
from .conditions import CONFLICT, READY, RECONCILING, Condition, Conditions, conflict_message, merge_conditions, stuck
from .failover import failover_condition, failover_status
from .resources import CR_REF
from .status import Assessment, assess, conditions_for, outputs_for, stalled_conditions


@dataclass
class Operator:
    """Process-wide collaborators of every reconcile."""

    client: KubeClient
    defaults: DefaultsStore
    artifact: LambdaArtifact | None
    # who controls an MR a pass would create, when not the deployment itself (the watch index; see apply.py)
    controlled_elsewhere: ControllerLookup
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
    stored_conditions: list[Mapping[str, Any]] = current_status.get("conditions") or []
    outcome = Outcome()
    live: dict[MRKey, dict[str, Any]] = {key_of(o): o for o in live_mrs}
    op.defaults.refresh()
    try:
        deployment = parse_deployment(cr)  # the operator's edge: past here only the typed model is read
        result = render(deployment, op.defaults.current, Observed.from_objects(live_mrs), op.artifact)
    except SpecValidationError as err:
        # Never touch what exists: a bad edit must not take down healthy infrastructure.
        outcome.stalled = f"{err.field}: {err.rule}"
        status = {**_copy(current_status), "observedGeneration": generation,
                  "conditions": merge_conditions(stored_conditions, stalled_conditions(err.field, err.rule)
                                                 .keep_others(stored_conditions), generation)}
        outcome.status_written = await _write_status(op, cr, status)
        return outcome

    desired = [with_ownership(o, cr) for o in result.resources]
    report = await apply_all(op.client, desired, live, concurrency=op.apply_concurrency,
                             controlled_elsewhere=op.controlled_elsewhere)
    # Pending and Blocked dependents (waiting for a value, or for an adopted resource to change) are kept, not pruned
    wanted = ({key_of(o) for o in desired} | {(p.kind, p.name) for p in result.pending}
              | {(b.kind, b.name) for b in result.blocked})
    unwanted = [o for k, o in live.items() if k not in wanted]
    await prune(op.client, report, unwanted)
    outcome.report = report
    outcome.pending = len(result.pending)

    # Judge readiness on the MRs as they are after this pass's applies: a changed MR has a new generation its
    # conditions do not speak for yet, so the deployment is not Ready until the provider has caught up.
    live = {**live, **report.returned}
    refused = {**report.errors, **{k: f"exists under another controller: {c}" for k, c in report.conflicts.items()}}
    a = assess(desired, live, refused)
    outcome.assessment = a
    conds = conditions_for(result, a, live)
    if report.errors:
        (kind, name), why = next(iter(report.errors.items()))
        conds.set(*stuck("ApplyFailed", f"{kind}/{name}: {why}",
                         f"{len(report.errors)} MRs refused by the API server: {kind}/{name}: {why}"))
    if report.conflicts:
        message = conflict_message(report.conflicts)
        conds.set(*stuck(CONFLICT, message, message))
    if report.prune_waiting or report.pruned:
        pruning = f"deleting {len(report.pruned) + len(report.prune_waiting)} MRs no longer rendered"
        conds.set(Condition(RECONCILING, True, "Pruning", pruning))
        if conds.is_true(READY):
            conds.set(Condition(READY, False, "Pruning", pruning))
    if result.failover is not None:
        conds.set(failover_condition(result.failover, live))
    outcome.ready = conds.is_true(READY)
    status = {
        "observedGeneration": generation,
        "conditions": merge_conditions(stored_conditions, conds, generation),
        "resources": {"ready": a.ready, "total": a.total},
        "pending": [str(p) for p in result.pending],
        "outputs": outputs_for(result, live),
        "alarmThresholds": result.thresholds,
        "activePaymentsRegion": result.active_payments_region,
        "defaultsVersion": op.defaults.current.version,
    }
    if result.failover is not None:
        status["failover"] = failover_status(result.failover, live, current_status.get("failover"))
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
    stored = current.get("conditions") or []
    conds = Conditions([Condition(READY, False, "Deleting", message),
                        Condition(RECONCILING, True, "Deleting", message)])
    merged = merge_conditions(stored, conds.keep_others(stored), generation)
    await _write_status(op, cr, {"conditions": merged})

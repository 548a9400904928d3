"""The per-deployment loops of one operator process, without kopf: when a deployment's pass runs (wake-ups,
debounce, the resync safety net, backoff after errors), how many run at once (the reconcile slots), that a pass and
a deletion step never interleave, and which Kubernetes Events a pass or a deletion step posts.

handlers.py wires kopf to this (the daemon calls run(), the deletion handler calls delete_step()); tests drive it
with a fake pass and a list for the events.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from .. import metrics
from ..identity import DeploymentKey
from ..readiness import readiness
from ..watch.signals import PassLocks, Wakeups
from .delete import DeletionProgress, delete_step
from .reconciler import Operator, Outcome, reconcile, report_deletion

log = logging.getLogger("regional_operator")
MAX_EVENT_MESSAGE: Final = 1000
MAX_EVENT_MRS: Final = 10  # MRs named in one event before the list is cut


@dataclass(frozen=True)
class LoopSettings:
    resync_seconds: float = 300.0
    # MR events arrive in bursts (hundreds per deployment while the provider creates things); one pass per burst.
    debounce_seconds: float = 0.5
    # When many deployments converge at once (an operator restart, a region added everywhere), every MR event would
    # wake its deployment for a pass that re-renders all its MRs, and the passes, not the API server's writes,
    # would fill the machine: the pause after a wake-up grows with the deployments converging beyond the reconcile
    # slots, up to this cap. An operator with a few deployments converging keeps `debounce_seconds`
    # (figures: bench/RESULTS.md).
    max_debounce_seconds: float = 5.0
    # Passes of different deployments running at once. Each pass holds its rendered MRs (~2 MB for two regions)
    # while it waits on the API server, and the API client has a fixed number of connections anyway: a hundred
    # passes at once cost a hundred renders of memory and make every deployment wait for all the others
    # (controller-runtime's MaxConcurrentReconciles, for the same reasons).
    max_concurrent_reconciles: int = 4
    max_backoff_seconds: float = 60.0


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event about the RegionalDeployment."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


class Stopped(Protocol):
    """kopf.DaemonStopped, or anything else that turns true when the loop must end."""

    def __bool__(self) -> bool: ...


Post = Callable[[Mapping[str, Any], Event], None]
Pass = Callable[[Mapping[str, Any], Sequence[dict[str, Any]]], Awaitable[Outcome]]
# (namespace, name, uid) -> the MRs whose controller owner reference is that RegionalDeployment with that UID
Owned = Callable[[str, str, str | None], list[dict[str, Any]]]


def _uid(body: Mapping[str, Any]) -> str | None:
    uid = (body.get("metadata") or {}).get("uid")
    return str(uid) if uid else None


def backoff_delay(failures: int, jitter: float, cap: float) -> float:
    """Seconds before retrying after `failures` failed passes in a row: 2^n capped at `cap`, times 0.5-1 (`jitter`
    in [0, 1)) so deployments that failed together do not retry together."""
    return min(cap, 2.0 ** failures) * (0.5 + jitter / 2)


def debounce_pause(settings: LoopSettings, converging: int) -> float:
    """Seconds to wait after a wake-up before the next pass: `debounce_seconds` while no more deployments are
    converging (not Ready) than there are reconcile slots, then in proportion to them (`converging` per slot),
    capped at `max_debounce_seconds`. No debounce set: none."""
    if not settings.debounce_seconds:
        return 0.0
    load = max(1.0, converging / settings.max_concurrent_reconciles)
    return min(settings.debounce_seconds * load, max(settings.max_debounce_seconds, settings.debounce_seconds))


def _listing(mrs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{kind}/{name}" for kind, name in list(mrs)[:MAX_EVENT_MRS])


def announce(outcome: Outcome, was_ready: bool | None) -> list[Event]:
    """Events on phase changes and errors only (not on every pass). `was_ready` is the previous pass's verdict,
    None before the first pass of this process."""
    if outcome.stalled:
        if was_ready is not False or outcome.status_written:
            return [Event("Warning", "InvalidSpec", outcome.stalled)]
        return []
    events: list[Event] = []
    if outcome.report.errors:
        (kind, name), message = next(iter(outcome.report.errors.items()))
        events.append(Event("Warning", "ApplyFailed", f"{kind}/{name}: {message}"[:MAX_EVENT_MESSAGE]))
    if outcome.report.pruned:
        events.append(Event("Normal", "Pruned", "deleted MRs no longer rendered: " + _listing(outcome.report.pruned)))
    if outcome.ready and was_ready is not True:
        total = outcome.assessment.total if outcome.assessment else 0
        events.append(Event("Normal", "Ready", f"all {total} managed resources ready"))
    elif not outcome.ready and was_ready is True:
        events.append(Event("Warning", "Degraded", "a managed resource is no longer ready; see status.conditions"))
    elif outcome.report.applied and was_ready is None:
        events.append(Event("Normal", "Applying", f"applied {len(outcome.report.applied)} managed resources"))
    return events


def deletion_events(progress: DeletionProgress) -> list[Event]:
    if progress.done:
        return [Event("Normal", "Deleted", progress.message)]
    events: list[Event] = []
    # Every kept resource is named (the user must know what is left in AWS): as many events as the list needs.
    prefix = "cloud resources kept (Retain lifecycle or adopted): "
    chunk: list[str] = []
    for label in progress.orphaned:
        if chunk and len(prefix) + len(", ".join([*chunk, label])) > MAX_EVENT_MESSAGE:
            events.append(Event("Normal", "Orphaned", prefix + ", ".join(chunk)))
            chunk = []
        chunk.append(label)
    if chunk:
        events.append(Event("Normal", "Orphaned", prefix + ", ".join(chunk)))
    if progress.requested:
        events.append(Event("Normal", "Deleting", f"tier {progress.tier}: "
                            + ", ".join(progress.requested[:MAX_EVENT_MRS])))
    return events


@dataclass
class Deployments:
    """Every RegionalDeployment loop of the process, and what they share."""

    operator: Operator
    owned: Owned  # the MRs the index holds for (namespace, name) controlled by the CR's current UID
    synced: asyncio.Event  # set once the MR index has listed every kind
    post: Post
    settings: LoopSettings = field(default_factory=LoopSettings)
    reconcile_pass: Pass | None = None  # default: reconcile() with `operator`
    jitter: Callable[[], float] = random.random
    wakeups: Wakeups = field(default_factory=Wakeups)
    passes: PassLocks = field(default_factory=PassLocks)
    ready: dict[DeploymentKey, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.settings.max_concurrent_reconciles)

    def converging(self) -> int:
        """Deployments whose last pass did not find them Ready (the debounce grows with them)."""
        return sum(1 for ready in self.ready.values() if not ready)

    async def _pass(self, body: Mapping[str, Any], owned: Sequence[dict[str, Any]]) -> Outcome:
        if self.reconcile_pass is not None:
            return await self.reconcile_pass(body, owned)
        return await reconcile(self.operator, body, owned)

    async def run(self, body: Mapping[str, Any], key: DeploymentKey, stopped: Stopped,
                  logger: logging.Logger | logging.LoggerAdapter[Any] = log) -> None:
        """Reconcile, then sleep until a wake-up (or the resync), until `stopped` or the deployment is deleting."""
        self.wakeups.event(key)
        await self.synced.wait()  # never reconcile from a half-listed index (it would re-create what exists)
        failures = 0
        was_ready: bool | None = None
        clock = asyncio.get_running_loop().time
        while not stopped:
            started = clock()
            try:
                async with self.passes.lock(key), self.slots:  # never alongside a deletion step of this deployment
                    if (body.get("metadata") or {}).get("deletionTimestamp"):  # checked once a slot is ours
                        return  # deletion owns the MRs now: a pass could re-create what it just deleted
                    outcome = await self._pass(body, self.owned(*key, _uid(body)))
                failures = 0
                metrics.RECONCILES.labels("stalled" if outcome.stalled else "ok").inc()
                for mr_key in outcome.report.applied:
                    metrics.MR_APPLIES.labels(mr_key[0]).inc()
                for event in announce(outcome, was_ready):
                    self.post(body, event)
                was_ready = self.ready[key] = outcome.ready
                # a held-back progress update is written by a pass once its interval is up, even without events
                delay = self.settings.resync_seconds if outcome.status_deferred is None else outcome.status_deferred
            except Exception as err:
                failures += 1
                metrics.RECONCILES.labels("error").inc()
                delay = backoff_delay(failures, self.jitter(), self.settings.max_backoff_seconds)
                logger.error("reconcile failed (retry in %.1fs): %s", delay, err)
                self.post(body, Event("Warning", "ReconcileError", f"{type(err).__name__}: {err}"[:MAX_EVENT_MESSAGE]))
            finally:
                metrics.RECONCILE_SECONDS.observe(clock() - started)
                metrics.API_ERRORS.set(self.operator.client.errors)
            if await self.wakeups.wait(key, delay):
                pause = debounce_pause(self.settings, self.converging())
                if pause:
                    await asyncio.sleep(pause)  # coalesce a burst of MR events into one pass

    async def delete_step(self, body: Mapping[str, Any], key: DeploymentKey) -> DeletionProgress:
        """One ordered deletion step (lowest tier first); the caller retries until `done`."""
        await self.synced.wait()
        async with self.passes.lock(key):  # waits for an in-flight reconcile pass to finish
            progress = await delete_step(self.operator.client, self.owned(*key, _uid(body)))
        for event in deletion_events(progress):
            self.post(body, event)
        if progress.done:
            self.wakeups.forget(key)
            self.ready.pop(key, None)
            self.operator.forget(*key)
        else:
            await report_deletion(self.operator, body, progress.message)
        return progress

    def publish_gauges(self, mrs: Iterable[Mapping[str, Any]]) -> None:
        """MRs by kind and readiness, and deployments by Ready, for dashboards (cheap: the index is in memory)."""
        counts: Counter[tuple[str, bool]] = Counter((mr["kind"], readiness(mr)[0]) for mr in mrs)
        metrics.MANAGED_RESOURCES.clear()
        for (kind, ready), n in counts.items():
            metrics.MANAGED_RESOURCES.labels(kind, str(ready).lower()).set(n)
        ready_count = sum(self.ready.values())
        metrics.DEPLOYMENTS.labels("true").set(ready_count)
        metrics.DEPLOYMENTS.labels("false").set(len(self.ready) - ready_count)

    async def follow_defaults(self, poll_seconds: float, mrs: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        """A changed defaults file (ConfigMap update) wakes every deployment, so alarms follow without a restart;
        the same tick publishes the gauges."""
        while True:
            await asyncio.sleep(poll_seconds)
            self.publish_gauges(mrs())
            try:
                if self.operator.defaults.refresh():
                    log.info("region defaults changed (version %s); resyncing all",
                             self.operator.defaults.current.version)
                    self.wakeups.wake_all()
            except Exception as err:  # a bad new file keeps the old defaults
                log.error("region defaults file invalid, keeping the previous one: %s", err)

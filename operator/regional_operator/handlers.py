"""kopf entry points, kept thin: they feed the MR index, wake the per-deployment loop, and call reconcile/delete.

Run with: kopf run -m regional_operator.handlers --all-namespaces --liveness=http://0.0.0.0:8080/healthz
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections import Counter
from typing import Any

import kopf

from . import metrics, profiling
from .artifact import LambdaArtifact, load_artifact
from .kube import KubeClient
from .mrwatch import MRIndex, MRWatcher, watched_namespaces
from .reconcile.defaults_store import DefaultsStore
from .reconcile.delete import delete_step
from .reconcile.reconciler import Operator, reconcile, report_deletion
from .reconcile.resources import GROUP, PLURAL, VERSION, readiness
from .render.kinds import KINDS
from .signals import PassLocks, Wakeups

log = logging.getLogger("regional_operator")
RESYNC_SECONDS = float(os.environ.get("REGIONAL_OPERATOR_RESYNC_SECONDS", "300"))
# MR events arrive in bursts (hundreds per deployment while the provider creates things); one pass per burst.
DEBOUNCE_SECONDS = float(os.environ.get("REGIONAL_OPERATOR_DEBOUNCE_SECONDS", "0.5"))
# Passes of different deployments running at once. Each pass holds its rendered MRs (~2 MB for two regions) while
# it waits on the API server, and the API client has a fixed number of connections anyway: a hundred passes at
# once cost a hundred renders of memory and make every deployment wait for all the others (controller-runtime's
# MaxConcurrentReconciles, for the same reasons).
MAX_CONCURRENT_RECONCILES = int(os.environ.get("REGIONAL_OPERATOR_MAX_CONCURRENT_RECONCILES", "4"))
DEFAULTS_POLL_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 60.0
FINALIZER = f"{GROUP}/finalizer"

wakeups = Wakeups()
_passes = PassLocks()
_reconcile_slots = asyncio.Semaphore(MAX_CONCURRENT_RECONCILES)
_index = MRIndex()
_operator: Operator | None = None
_watcher: MRWatcher | None = None
_deployment_ready: dict[tuple[str, str], bool] = {}


def owned_mrs(namespace: str, name: str) -> list[dict[str, Any]]:
    return _index.owned(namespace, name)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _operator, _watcher  # noqa: PLW0603 - one operator per process, created once kopf has started
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=f"kopf.{GROUP}")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=f"kopf.{GROUP}")
    # Watches that go quiet are restarted instead of hanging forever (kopf's known silent-watch failure mode).
    settings.watching.inactivity_timeout = float(os.environ.get("REGIONAL_OPERATOR_WATCH_INACTIVITY", "70"))
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.posting.level = logging.INFO
    # kopf logs every handler call at INFO: with one wake-up handler per MR event that is thousands of lines a
    # minute and real CPU. Our own decisions are logged by "regional_operator"; kopf's warnings/errors stay.
    if not os.environ.get("REGIONAL_OPERATOR_VERBOSE"):
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.networking.error_backoffs = [1, 2, 5, 10, 20]
    artifact: LambdaArtifact | None
    try:
        artifact = load_artifact()
    except ImportError:
        log.warning("payments Lambda package not installed: functions will not be rendered")
        artifact = None
    _operator = Operator(client=KubeClient(), defaults=DefaultsStore(), artifact=artifact,
                         apply_concurrency=int(os.environ.get("REGIONAL_OPERATOR_APPLY_CONCURRENCY", "16")))
    watch_client = KubeClient(max_connections=len(KINDS) * len(watched_namespaces() or [None]) + 8)
    _watcher = MRWatcher(watch_client, _index, wakeups.wake, namespaces=watched_namespaces(),
                         inactivity=settings.watching.inactivity_timeout)
    _watcher.start()
    metrics.serve(int(os.environ.get("REGIONAL_OPERATOR_METRICS_PORT", "9090")))
    profiling.start_if_requested()
    asyncio.get_running_loop().create_task(_watch_defaults(_operator))


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    profiling.stop_and_dump()
    if _watcher is not None:
        await _watcher.stop()
        await _watcher.client.close()
    if _operator is not None:
        await _operator.client.close()


def _publish_gauges() -> None:
    """MRs by kind and readiness, and deployments by Ready, for dashboards (cheap: the index is in memory)."""
    counts: Counter[tuple[str, bool]] = Counter((mr["kind"], readiness(mr)[0]) for mr in _index.all())
    metrics.MANAGED_RESOURCES.clear()
    for (kind, ready), n in counts.items():
        metrics.MANAGED_RESOURCES.labels(kind, str(ready).lower()).set(n)
    ready_count = sum(_deployment_ready.values())
    metrics.DEPLOYMENTS.labels("true").set(ready_count)
    metrics.DEPLOYMENTS.labels("false").set(len(_deployment_ready) - ready_count)


async def _watch_defaults(op: Operator) -> None:
    """A changed defaults file (ConfigMap update) wakes every deployment, so alarms follow without a restart;
    the same tick publishes the gauges."""
    while True:
        await asyncio.sleep(DEFAULTS_POLL_SECONDS)
        _publish_gauges()
        try:
            if op.defaults.refresh():
                log.info("region defaults changed (version %s); resyncing all", op.defaults.current.version)
                wakeups.wake_all()
        except Exception as err:  # a bad new file keeps the old defaults
            log.error("region defaults file invalid, keeping the previous one: %s", err)


@kopf.on.event(GROUP, VERSION, PLURAL)  # type: ignore[arg-type]
async def deployment_changed(namespace: str, name: str, **_: Any) -> None:
    """Wake the deployment's loop. Async on purpose: kopf runs sync handlers in a thread pool."""
    metrics.watch_event(PLURAL)
    wakeups.wake((namespace, name))


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10)  # type: ignore[arg-type]
async def run(body: kopf.Body, namespace: str, name: str, stopped: kopf.DaemonStopped, logger: kopf.Logger,
              **kwargs: Any) -> None:
    """The per-deployment loop: reconcile, then sleep until an event (or the resync safety net)."""
    assert _operator is not None
    key = (namespace, name)
    wakeups.event(key)
    await _index.synced.wait()  # never reconcile from a half-listed index (it would re-create what exists)
    failures = 0
    was_ready: bool | None = None
    while not stopped:
        started = asyncio.get_running_loop().time()
        try:
            async with _passes.lock(key), _reconcile_slots:  # never alongside a deletion step of this deployment
                if body.metadata.get("deletionTimestamp"):  # checked once a slot is ours: the wait can be long
                    return  # deletion owns the MRs now: a pass could re-create what it just deleted
                outcome = await reconcile(_operator, body, owned_mrs(namespace, name))
            failures = 0
            metrics.RECONCILES.labels("stalled" if outcome.stalled else "ok").inc()
            for mr_key in outcome.report.applied:
                metrics.MR_APPLIES.labels(mr_key[0]).inc()
            _announce(body, outcome, was_ready)
            was_ready = _deployment_ready[key] = outcome.ready
            # a held-back progress update is written by a pass once its interval is up, even without events
            delay = RESYNC_SECONDS if outcome.status_deferred is None else outcome.status_deferred
        except Exception as err:
            failures += 1
            metrics.RECONCILES.labels("error").inc()
            delay = min(MAX_BACKOFF_SECONDS, 2 ** failures) * (0.5 + random.random() / 2)  # noqa: S311
            logger.error("reconcile failed (retry in %.1fs): %s", delay, err)
            kopf.warn(body, reason="ReconcileError", message=f"{type(err).__name__}: {err}"[:1000])
        finally:
            metrics.RECONCILE_SECONDS.observe(asyncio.get_running_loop().time() - started)
            metrics.API_ERRORS.set(_operator.client.errors)
        if await wakeups.wait(key, delay) and DEBOUNCE_SECONDS:
            await asyncio.sleep(DEBOUNCE_SECONDS)  # coalesce a burst of MR events into one pass


def _announce(body: kopf.Body, outcome: Any, was_ready: bool | None) -> None:
    """Kubernetes Events on phase changes and errors only (not on every pass)."""
    if outcome.stalled:
        if was_ready is not False or outcome.status_written:
            kopf.warn(body, reason="InvalidSpec", message=outcome.stalled)
        return
    if outcome.report.errors:
        (kind, name), message = next(iter(outcome.report.errors.items()))
        kopf.warn(body, reason="ApplyFailed", message=f"{kind}/{name}: {message}"[:1000])
    if outcome.report.pruned:
        kopf.info(body, reason="Pruned", message="deleted MRs no longer rendered: "
                  + ", ".join(f"{k}/{n}" for k, n in outcome.report.pruned[:10]))
    if outcome.ready and was_ready is not True:
        a = outcome.assessment
        kopf.info(body, reason="Ready", message=f"all {a.total if a else 0} managed resources ready")
    elif not outcome.ready and was_ready is True:
        kopf.warn(body, reason="Degraded", message="a managed resource is no longer ready; see status.conditions")
    elif outcome.report.applied and was_ready is None:
        kopf.info(body, reason="Applying", message=f"applied {len(outcome.report.applied)} managed resources")


@kopf.on.delete(GROUP, VERSION, PLURAL, backoff=1.0)  # type: ignore[arg-type]
async def delete(body: kopf.Body, namespace: str, name: str, **kwargs: Any) -> None:
    """Ordered deletion; retried (kopf.TemporaryError) until every owned MR is gone, then the finalizer goes."""
    assert _operator is not None
    await _index.synced.wait()
    async with _passes.lock((namespace, name)):  # waits for an in-flight reconcile pass to finish
        progress = await delete_step(_operator.client, owned_mrs(namespace, name))
    if progress.done:
        wakeups.forget((namespace, name))
        _deployment_ready.pop((namespace, name), None)
        _operator.forget(namespace, name)
        kopf.info(body, reason="Deleted", message=progress.message)
        return
    if progress.orphaned:
        kopf.info(body, reason="Orphaned", message="Retain lifecycle, cloud resources kept: "
                  + ", ".join(progress.orphaned))
    if progress.requested:
        kopf.info(body, reason="Deleting", message=f"tier {progress.tier}: " + ", ".join(progress.requested[:10]))
    await report_deletion(_operator, body, progress.message)
    raise kopf.TemporaryError(progress.message, delay=1.0)

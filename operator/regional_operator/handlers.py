"""kopf entry points, kept thin: each wires one kopf cause to the per-deployment loops (reconcile/loop.py) or to
the MR watches; what runs when, and which events are posted, is decided there.

Run with: kopf run -m regional_operator.handlers --all-namespaces --liveness=http://0.0.0.0:8080/healthz
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any

import kopf

from . import metrics, profiling
from .artifact import LambdaArtifact, load_artifact
from .defaults_store import DefaultsStore
from .identity import GROUP, PLURAL, VERSION
from .kube import KubeClient
from .reconcile.loop import Deployments, Event, LoopSettings
from .reconcile.reconciler import Operator
from .render.kinds import KINDS
from .watch.mrwatch import MRIndex, MRWatcher, watched_namespaces

log = logging.getLogger("regional_operator")
SETTINGS = LoopSettings(
    resync_seconds=float(os.environ.get("REGIONAL_OPERATOR_RESYNC_SECONDS", "300")),
    debounce_seconds=float(os.environ.get("REGIONAL_OPERATOR_DEBOUNCE_SECONDS", "0.5")),
    max_concurrent_reconciles=int(os.environ.get("REGIONAL_OPERATOR_MAX_CONCURRENT_RECONCILES", "4")),
)
DEFAULTS_POLL_SECONDS = 5.0
FINALIZER = f"{GROUP}/finalizer"

_index = MRIndex()
_deployments: Deployments | None = None
_watcher: MRWatcher | None = None


def _post(body: Mapping[str, Any], event: Event) -> None:
    """The loops hand back the kopf.Body they were given; kopf posts the Event about that object."""
    assert isinstance(body, kopf.Body)
    (kopf.warn if event.type == "Warning" else kopf.info)(body, reason=event.reason, message=event.message)


def _configure_kopf(settings: kopf.OperatorSettings) -> None:
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


def _artifact() -> LambdaArtifact | None:
    try:
        return load_artifact()
    except ImportError:
        log.warning("payments Lambda package not installed: functions will not be rendered")
        return None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _deployments, _watcher  # noqa: PLW0603 - one operator per process, created once kopf has started
    _configure_kopf(settings)
    operator = Operator(client=KubeClient(), defaults=DefaultsStore(), artifact=_artifact(),
                        controlled_elsewhere=_index.controlled_elsewhere,
                        apply_concurrency=int(os.environ.get("REGIONAL_OPERATOR_APPLY_CONCURRENCY", "16")))
    _deployments = Deployments(operator, _index.owned, _index.synced, _post, SETTINGS)
    watch_client = KubeClient(max_connections=len(KINDS) * len(watched_namespaces() or [None]) + 8)
    _watcher = MRWatcher(watch_client, _index, _deployments.wakeups.wake, namespaces=watched_namespaces(),
                         inactivity=settings.watching.inactivity_timeout)
    _watcher.start()
    metrics.serve(int(os.environ.get("REGIONAL_OPERATOR_METRICS_PORT", "9090")))
    profiling.start_if_requested()
    asyncio.get_running_loop().create_task(_deployments.follow_defaults(DEFAULTS_POLL_SECONDS, _index.all))


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    profiling.stop_and_dump()
    if _watcher is not None:
        await _watcher.stop()
        await _watcher.client.close()
    if _deployments is not None:
        await _deployments.operator.client.close()


@kopf.on.event(GROUP, VERSION, PLURAL)  # type: ignore[arg-type]
async def deployment_changed(namespace: str, name: str, **_: Any) -> None:
    """Wake the deployment's loop. Async on purpose: kopf runs sync handlers in a thread pool."""
    assert _deployments is not None
    metrics.watch_event(PLURAL)
    _deployments.wakeups.wake((namespace, name))


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10)  # type: ignore[arg-type]
async def run(body: kopf.Body, namespace: str, name: str, stopped: kopf.DaemonStopped, logger: kopf.Logger,
              **_: Any) -> None:
    """The per-deployment loop: reconcile, then sleep until an event (or the resync safety net)."""
    assert _deployments is not None
    await _deployments.run(body, (namespace, name), stopped, logger)


@kopf.on.delete(GROUP, VERSION, PLURAL, backoff=1.0)  # type: ignore[arg-type]
async def delete(body: kopf.Body, namespace: str, name: str, **_: Any) -> None:
    """Ordered deletion; retried (kopf.TemporaryError) until every owned MR is gone, then the finalizer goes."""
    assert _deployments is not None
    progress = await _deployments.delete_step(body, (namespace, name))
    if not progress.done:
        raise kopf.TemporaryError(progress.message, delay=1.0)

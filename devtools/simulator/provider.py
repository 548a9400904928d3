"""TEST-ONLY: an asyncio controller that plays the Crossplane AWS provider against a real API server. Never shipped.

For every kind in ``regional_operator.render.kinds.KINDS`` it LISTs then WATCHes the MRs labelled
``app.kubernetes.io/managed-by=regional-operator`` (one streamed watch per kind, all on the KubeClient's one aiohttp
session), and drives each MR through the life cycle the real provider gives it:

1. first sight: add the finalizer ``finalizer.managedresource.crossplane.io`` (merge patch of the full list, with a
   resourceVersion precondition) and report ``Ready=False/Creating``, ``Synced=True/ReconcileSuccess``;
2. after ``ready_delay``: record the external name and late-initialize a few forProvider fields (merge patch on the
   main resource, field manager ``provider-sim``), then write ``status.atProvider`` and ``Ready=True/Available``,
   ``Synced=True/ReconcileSuccess`` at the MR's current generation;
3. a new generation (spec change) gets its conditions re-written at that generation ``ready_delay`` later;
4. deletion: ``Ready=False/Deleting`` at once, the finalizer removed ``ready_delay`` later.

``coalesce_writes=True`` (the scale benchmark's mode) makes the same end state with two writes per MR instead of
four: nothing is written on first sight, and after ``ready_delay`` one patch on the main resource adds the
finalizer, the external name and the late-initialized fields, then one status write reports Available. The API
server then spends its CPU on the operator's work rather than on the stand-in provider's bookkeeping.

Pre-existing AWS state (``estate=``, issue 16): a fixture of resources that exist before any MR, by kind key and
external name, with the atProvider values AWS would report. An MR whose management policies are ``["Observe"]`` is
reported from it (``atProvider`` = the seeded values, Ready/Synced True) and never created, updated or deleted;
one whose external name is unknown gets ``Synced=False/ReconcileError`` *observe failed: external resource does not
exist*, crossplane-runtime's wording (``errReconcileObserve`` wrapping ``errExternalResourceNotExist``,
``pkg/reconciler/managed/reconciler.go``), and nothing is created. An MR in Manage keeps the seeded identity. The
simulated cloud (:attr:`ProviderSimulator.cloud`: the estate plus what MRs created) loses a resource only when an
MR with the Delete policy is deleted; :attr:`~.operations` records every create, update and delete. Without an
estate the simulator makes up every resource an MR names (Observe-only MRs included), as before.

Faults: :meth:`ProviderSimulator.fail` / the annotation ``sim.regional.io/fail: <reason>`` turn an MR into
``Synced=False/ReconcileError`` + ``Ready=False/Unavailable`` (re-asserted on every retry); :meth:`~.stick` / the
annotation ``sim.regional.io/stick: "true"`` keep a deleted MR's finalizer.

The controller is level-based: every reconcile compares the wanted state with the cached object and writes only
differences, so a healthy MR costs no requests once it is Ready. Timers are one heap served by one task; a small
pool of workers processes due keys, never the same key twice at once (client-go work-queue semantics).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import kopf
from regional_operator.kube import MERGE_CONTENT_TYPE, ApiError, KubeClient, ResourceRef
from regional_operator.render.kinds import KINDS, Kind

from . import facts, references

log = logging.getLogger("provider-sim")

FINALIZER: Final = "finalizer.managedresource.crossplane.io"
FIELD_MANAGER: Final = "provider-sim"
FAIL_ANNOTATION: Final = "sim.regional.io/fail"
STICK_ANNOTATION: Final = "sim.regional.io/stick"
LABEL_SELECTOR: Final = "app.kubernetes.io/managed-by=regional-operator"
DEFAULT_ACCOUNT: Final = "123456789012"
WATCH_TIMEOUT: Final = 300  # seconds the API server keeps one watch open before we resume it
WORKERS: Final = 8
# One long-lived connection per watched kind plus the workers' requests.
CONNECTIONS_NEEDED: Final = len(KINDS) + WORKERS + 8

Key = tuple[str, str, str]  # (kind key "svc/Kind", namespace, name)
# kind key -> external name -> the atProvider values AWS reports for a resource that exists before any MR
Estate = Mapping[str, Mapping[str, Mapping[str, Any]]]
# crossplane-runtime pkg/reconciler/managed/reconciler.go: errReconcileObserve + ": " + errExternalResourceNotExist
NOT_FOUND_MESSAGE: Final = "observe failed: external resource does not exist"
# atProvider keys that are the resource's identity: an adopted one keeps AWS's, whatever the spec says
IDENTITY_KEYS: Final = frozenset({"id", "arn", "arnSuffix", "resourceId", "url", "address", "dnsName", "endpoint"})
# settings an adopted resource in Manage reports as the spec sets them (the real provider mirrors every parameter;
# the simulator only these, which the renderer reads: render/observed.py)
MIRRORED: Final = ("cidrBlock", "streamEnabled", "streamViewType", "versioningConfiguration", "backupRetentionPeriod")


@dataclass
class SimStats:
    """Counters for tests and for the CLI's exit line."""

    lists: int = 0
    watches: int = 0
    relists: int = 0  # after 410 Gone
    watch_errors: int = 0
    events: int = 0
    reconciles: int = 0
    finalizers_added: int = 0
    finalizers_removed: int = 0
    status_writes: int = 0
    metadata_patches: int = 0  # external name + late-initialized forProvider fields
    late_inits: int = 0
    references_resolved: int = 0  # MRs whose Ref/Selector values were written into spec.forProvider
    unresolved: int = 0  # reconciles that found a reference the provider could not resolve
    conflicts: int = 0
    fault_retries: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Track:
    """What the simulator remembers about one MR between events (in memory only, like a provider's cache)."""

    generation: int
    since: float  # monotonic time this generation was first seen (-inf: nothing to wait for)
    available_once: bool = False
    deleting_since: float | None = None
    last_applied: int | None = None  # the generation last made Available (an update is a new one)


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


class _WorkQueue:
    """Keys due now are processed by workers; keys due later wait in one timer heap (one task, no per-key timers)."""

    def __init__(self) -> None:
        self._ready: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._active: set[Key] = set()
        self._dirty: set[Key] = set()
        self._due: dict[Key, float] = {}
        self._heap: list[tuple[float, int, Key]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def add(self, key: Key, at: float | None = None) -> None:
        """Process ``key`` now, or at monotonic time ``at`` (the earliest of several requests wins)."""
        now = time.monotonic()
        if at is None or at <= now:
            self._enqueue(key)
            return
        current = self._due.get(key)
        if current is not None and current <= at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))
        self._wake.set()

    def _enqueue(self, key: Key) -> None:
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._ready.put_nowait(key)

    async def get(self) -> Key:
        key = await self._ready.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: Key) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self._enqueue(key)

    def idle(self) -> bool:
        return not (self._queued or self._active or self._dirty)

    async def run_timers(self) -> None:
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                at, _, key = heapq.heappop(self._heap)
                if self._due.get(key) == at:
                    del self._due[key]
                    self._enqueue(key)
            timeout = self._heap[0][0] - now if self._heap else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


def resolve_kind(kind: str) -> Kind:
    """``"ec2/VPC"`` or an unambiguous bare kind (``"VPC"``); ``"Service"`` needs its service prefix."""
    if kind in KINDS:
        return KINDS[kind]
    found = [k for k in KINDS.values() if k.kind == kind]
    if len(found) != 1:
        choices = ", ".join(k.key for k in found) or "none"
        raise ValueError(f"kind {kind!r} is unknown or ambiguous (matches: {choices}); use 'service/Kind'")
    return found[0]


def _rv(obj: Mapping[str, Any]) -> int | None:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


def _now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _condition(type_: str, status: bool, reason: str, generation: int, message: str = "") -> dict[str, Any]:
    cond: dict[str, Any] = {"type": type_, "status": "True" if status else "False", "reason": reason,
                            "observedGeneration": generation}
    if message:
        cond["message"] = message
    return cond


def _same_condition(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(f) == b.get(f) for f in ("type", "status", "reason", "message", "observedGeneration"))


def is_fresh(obj: Mapping[str, Any]) -> bool:
    """Ready and Synced both True at the MR's current generation (what the operator calls fresh)."""
    generation = (obj.get("metadata") or {}).get("generation")
    conds = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
    return all((conds.get(t) or {}).get("status") == "True" and conds[t].get("observedGeneration") == generation
               for t in ("Ready", "Synced"))


class ProviderSimulator:
    """TEST-ONLY Crossplane provider stand-in; see the module docstring. Use ``async with`` or start()/stop()."""

    def __init__(self, client: KubeClient, *, namespace: str | None = None, ready_delay: float = 0.2,
                 account_id: str = DEFAULT_ACCOUNT, retry_interval: float | None = None,
                 kinds: Mapping[str, Kind] | None = None, coalesce_writes: bool = False,
                 estate: Estate | None = None, cloud_out: str | None = None) -> None:
        max_connections = getattr(client, "_max_connections", CONNECTIONS_NEEDED)
        if max_connections < CONNECTIONS_NEEDED:
            raise ValueError(f"the simulator holds one watch per kind: build its client with "
                             f"KubeClient(info, max_connections={CONNECTIONS_NEEDED}) (got {max_connections})")
        self.client = client
        self.namespace = namespace
        self.ready_delay = ready_delay
        self.coalesce_writes = coalesce_writes
        self.account_id = account_id
        self.retry_interval = retry_interval if retry_interval is not None else max(1.0, 5 * ready_delay)
        self.kinds: dict[str, Kind] = dict(kinds or KINDS)
        self.stats = SimStats()
        # the simulated AWS: (kind key, external name) -> atProvider; the estate, then what MRs created
        self.cloud: dict[tuple[str, str], dict[str, Any]] = {
            (kind_key, ext): dict(at) for kind_key, by_name in (estate or {}).items() for ext, at in by_name.items()}
        self.estate_keys: frozenset[tuple[str, str]] = frozenset(self.cloud)
        # Without an estate every MR stands for a resource the simulator makes up (an Observe-only MR too, as the
        # tables-vs-CRDs tests want); with one, only what the estate or an MR created exists.
        self.seeded = estate is not None
        self.cloud_out = cloud_out
        self.operations: list[tuple[str, str, str, str]] = []  # (create|update|delete, kind key, MR name, ext name)
        self._cache: dict[Key, dict[str, Any]] = {}
        # target MR -> MRs whose references wait for it (woken when it changes, as the provider's watches would)
        self._waiting_on: dict[Key, set[Key]] = {}
        self._tracks: dict[Key, _Track] = {}
        self._faults: dict[tuple[str, str | None, str], str] = {}
        self._stuck: set[tuple[str, str | None, str]] = set()
        self._queue = _WorkQueue()
        self._listed: set[str] = set()
        self._started = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._watch(k), name=f"sim-watch-{k.key}") for k in self.kinds.values()]
        self._tasks.append(asyncio.create_task(self._queue.run_timers(), name="sim-timers"))
        self._tasks += [asyncio.create_task(self._worker(), name=f"sim-worker-{i}") for i in range(WORKERS)]

    async def wait_started(self, timeout: float = 60.0) -> None:
        """Return once every kind has been listed (its watch is about to start); TimeoutError names the laggards."""
        try:
            await asyncio.wait_for(self._started.wait(), timeout)
        except TimeoutError:
            missing = sorted(set(self.kinds) - self._listed)
            raise TimeoutError(f"simulator could not list {len(missing)} kinds within {timeout}s (CRDs installed?): "
                               f"{', '.join(missing[:10])}") from None

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> ProviderSimulator:
        await self.start()
        await self.wait_started()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until no reconcile is queued, running or due within ``ready_delay`` (handy before assertions)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            soon = time.monotonic() + self.ready_delay + 0.05
            if self._queue.idle() and all(at > soon for at in self._queue._due.values()):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"simulator still busy after {timeout}s")

    # --- fault switches --------------------------------------------------------------------------------------

    def fail(self, kind: str, name: str, reason: str, *, namespace: str | None = None) -> None:
        """Make the MR report Synced=False/ReconcileError(``reason``) and Ready=False/Unavailable until heal()."""
        self._faults[(resolve_kind(kind).key, namespace, name)] = reason
        self._poke(kind, name, namespace)

    def heal(self, kind: str, name: str, *, namespace: str | None = None) -> None:
        self._faults.pop((resolve_kind(kind).key, namespace, name), None)
        self._poke(kind, name, namespace)

    def stick(self, kind: str, name: str, *, namespace: str | None = None) -> None:
        """Keep the finalizer of this MR when it is deleted (deletion hangs) until unstick()."""
        self._stuck.add((resolve_kind(kind).key, namespace, name))
        self._poke(kind, name, namespace)

    def unstick(self, kind: str, name: str, *, namespace: str | None = None) -> None:
        self._stuck.discard((resolve_kind(kind).key, namespace, name))
        self._poke(kind, name, namespace)

    def _poke(self, kind: str, name: str, namespace: str | None) -> None:
        key = resolve_kind(kind).key
        for k in self._cache:
            if k[0] == key and k[2] == name and namespace in (None, k[1]):
                self._queue.add(k)

    def _fault(self, key: Key, obj: Mapping[str, Any]) -> str | None:
        annotations = obj["metadata"].get("annotations") or {}
        reason = annotations.get(FAIL_ANNOTATION)
        if reason:
            return str(reason)
        return self._faults.get((key[0], key[1], key[2])) or self._faults.get((key[0], None, key[2]))

    def _is_stuck(self, key: Key, obj: Mapping[str, Any]) -> bool:
        value = str((obj["metadata"].get("annotations") or {}).get(STICK_ANNOTATION, "")).lower()
        if value and value != "false":
            return True
        return (key[0], key[1], key[2]) in self._stuck or (key[0], None, key[2]) in self._stuck

    # --- watching --------------------------------------------------------------------------------------------

    async def _watch(self, kind: Kind) -> None:
        path = ResourceRef(kind.api_version, kind.plural).path(self.namespace)
        rv: str | None = None
        backoff = 0.2
        while True:
            try:
                if rv is None:
                    rv = await self._list(kind, path)
                    if kind.key not in self._listed:
                        self._listed.add(kind.key)
                        if len(self._listed) == len(self.kinds):
                            self._started.set()
                rv = await self._stream(kind, path, rv)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except _Gone:
                self.stats.relists += 1
                rv = None
            except (TimeoutError, aiohttp.ClientError, ApiError, ValueError) as err:
                self.stats.watch_errors += 1
                if isinstance(err, ApiError) and err.status == 410:
                    rv = None
                # The first retry is routine (a CRD's storage still initializing, a server-side watch close).
                log.log(logging.WARNING if backoff > 0.2 else logging.DEBUG, "watch %s: %s; retrying in %.1fs",
                        kind.key, err, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _list(self, kind: Kind, path: str) -> str:
        seen: set[Key] = set()
        params = {"labelSelector": LABEL_SELECTOR, "limit": "500"}
        while True:
            page = await self.client.request("GET", path, params=params)
            self.stats.lists += 1
            for item in page.get("items") or []:
                seen.add(self._observe(kind, item))
            meta = page.get("metadata") or {}
            if not meta.get("continue"):
                break
            params = {**params, "continue": meta["continue"]}
        for key in [k for k in self._cache if k[0] == kind.key and k not in seen]:
            self._forget(key)  # deleted while we were not watching
        return str(meta.get("resourceVersion", ""))

    async def _stream(self, kind: Kind, path: str, rv: str) -> str:
        """Follow one watch until the server ends it; returns the resourceVersion to resume from."""
        session = await self.client._ensure()
        params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                  "labelSelector": LABEL_SELECTOR, "timeoutSeconds": str(WATCH_TIMEOUT)}
        url = path.lstrip("/") + "?" + urlencode(params)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=WATCH_TIMEOUT + 30)
        self.stats.watches += 1
        async with session.get(url, timeout=timeout) as resp:
            if resp.status == 410:
                raise _Gone
            if resp.status >= 400:
                text = await resp.text()
                raise ApiError(resp.status, text[:500])
            buffer = bytearray()
            async for chunk in resp.content.iter_any():
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[:end + 1]
                    if line.strip():
                        rv = self._event(kind, json.loads(line), rv)
        return rv

    def _event(self, kind: Kind, event: Mapping[str, Any], rv: str) -> str:
        kind_of_event, obj = event.get("type"), event.get("object") or {}
        if kind_of_event == "ERROR":
            if obj.get("code") == 410:
                raise _Gone
            raise ApiError(int(obj.get("code") or 500), str(obj.get("message")), str(obj.get("reason", "")))
        new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
        if kind_of_event == "BOOKMARK":
            return new_rv
        self.stats.events += 1
        if kind_of_event == "DELETED":
            self._forget((kind.key, obj["metadata"]["namespace"], obj["metadata"]["name"]))
        else:
            self._observe(kind, obj)
        return new_rv

    def _observe(self, kind: Kind, obj: dict[str, Any]) -> Key:
        """Cache the newest copy of an object and queue it."""
        meta = obj["metadata"]
        key = (kind.key, meta["namespace"], meta["name"])
        self._remember(key, obj)
        self._queue.add(key)
        for waiter in self._waiting_on.pop(key, ()):
            self._queue.add(waiter)
        return key

    def _remember(self, key: Key, obj: dict[str, Any]) -> None:
        cached = self._cache.get(key)
        old, new = (_rv(cached) if cached else None), _rv(obj)
        if cached is not None and cached["metadata"].get("uid") == obj["metadata"].get("uid") \
                and old is not None and new is not None and new < old:
            return  # a late event older than what a write already returned to us
        if cached is not None and cached["metadata"].get("uid") != obj["metadata"].get("uid"):
            self._tracks.pop(key, None)  # deleted and re-created under the same name
        self._cache[key] = obj

    def _forget(self, key: Key) -> None:
        self._cache.pop(key, None)
        self._tracks.pop(key, None)

    # --- reconciling -----------------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            try:
                await self._reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                await self._failed(key, err)
            finally:
                self._queue.done(key)

    async def _failed(self, key: Key, err: Exception) -> None:
        """Decide what a failed reconcile means; never raises, so a worker never dies."""
        try:
            if isinstance(err, ApiError) and err.status == 404:
                self._forget(key)  # gone; the DELETED event may still be on its way
                return
            if isinstance(err, ApiError) and err.status == 409:
                self.stats.conflicts += 1  # someone wrote in between: read it again and redo
                await self._refresh(key)
                self._queue.add(key)
                return
        except Exception as again:
            err = again
        self.stats.errors += 1
        if isinstance(err, ApiError | aiohttp.ClientError | TimeoutError):
            log.warning("reconcile %s: %s", "/".join(key), err)
        else:
            log.error("reconcile %s failed", "/".join(key), exc_info=err)
        self._queue.add(key, time.monotonic() + self.retry_interval)

    async def _refresh(self, key: Key) -> None:
        kind = self.kinds[key[0]]
        fresh = await self.client.get(ResourceRef(kind.api_version, kind.plural), key[1], key[2])
        if fresh is None:
            self._forget(key)
        else:
            self._remember(key, fresh)

    async def _reconcile(self, key: Key) -> None:
        obj = self._cache.get(key)
        if obj is None:
            return
        self.stats.reconciles += 1
        now = time.monotonic()
        meta = obj["metadata"]
        generation = int(meta.get("generation") or 1)
        track = self._tracks.get(key)
        if track is None:
            already = is_fresh(obj) and bool((obj.get("status") or {}).get("atProvider"))
            track = _Track(generation, -math.inf if already else now, available_once=already)
            self._tracks[key] = track
        elif track.generation != generation:
            track.generation, track.since = generation, now

        if meta.get("deletionTimestamp"):
            await self._reconcile_deletion(key, obj, track, now)
            return

        fault = self._fault(key, obj) or facts.import_error(facts.Subject.of(self.kinds[key[0]], obj, self.account_id))
        ready_at = track.since + self.ready_delay
        has_finalizer = FINALIZER in (meta.get("finalizers") or [])
        if self.coalesce_writes and not fault and not has_finalizer:
            if now < ready_at:
                self._queue.add(key, ready_at)  # nothing written until there is something final to write
                return
            resolution = self._resolve(key, obj)
            if resolution.error is not None:
                return  # coalescing: no status write while waiting; a change of a target wakes it
            obj = await self._late_initialize(key, obj, track, add_finalizer=True, resolved=resolution.fields)
            self.stats.finalizers_added += 1
        elif not has_finalizer:
            obj = await self._set_finalizers(key, obj, [*(meta.get("finalizers") or []), FINALIZER])
            self.stats.finalizers_added += 1

        policies = (obj.get("spec") or {}).get("managementPolicies") or ["*"]
        if self.seeded and not fault and policies == ["Observe"]:
            await self._observe_only(key, obj, generation)
            return

        if fault:
            await self._write_status(key, obj, [
                _condition("Ready", False, "Unavailable", generation),
                _condition("Synced", False, "ReconcileError", generation, fault),
            ])
            self.stats.fault_retries += 1
            self._queue.add(key, now + self.retry_interval)  # a real provider keeps retrying with backoff
            return

        if now < ready_at:
            if not track.available_once:
                await self._write_status(key, obj, [
                    _condition("Ready", False, "Creating", generation),
                    _condition("Synced", True, "ReconcileSuccess", generation),
                ])
            self._queue.add(key, ready_at)
            return

        resolution = self._resolve(key, obj)
        if resolution.error is not None:
            # The provider resolves references before it observes or creates anything: the MR is not synced, and
            # says why in the provider's words. Any change of a target wakes it (and a timer, as a safety net).
            await self._write_status(key, obj, [
                _condition("Ready", False, "Creating", generation),
                _condition("Synced", False, "ReconcileError", generation, resolution.error),
            ])
            self._queue.add(key, now + self.retry_interval)
            return
        pinned = self._existing(key, obj)
        if self.seeded and pinned is None and "*" not in policies and "Create" not in policies:
            await self._write_status(key, obj, [_condition("Synced", False, "ReconcileError", generation,
                                                           NOT_FOUND_MESSAGE)])
            self._queue.add(key, now + self.retry_interval)
            return
        before = int(obj["metadata"].get("generation") or 1)
        obj = await self._late_initialize(key, obj, track, resolved=resolution.fields, pinned=pinned)
        generation = int(obj["metadata"].get("generation") or 1)
        subject = facts.Subject.of(self.kinds[key[0]], obj, self.account_id)
        at_provider = facts.at_provider(subject, pinned)
        ext = pinned or facts.identity(subject)
        if pinned is not None:  # an existing resource keeps its identity; Manage applies the spec's settings
            seeded = self.cloud[(key[0], pinned)]
            mirrored = {k: subject.for_provider[k] for k in MIRRORED if k in subject.for_provider}
            at_provider = {**seeded, **at_provider, **mirrored,
                           **{k: v for k, v in seeded.items() if k in IDENTITY_KEYS}}
            if track.last_applied != before:
                self.operations.append(("update", key[0], key[2], ext))
        elif (key[0], ext) not in self.cloud:
            self.operations.append(("create", key[0], key[2], ext))
        track.last_applied = before
        self.cloud[(key[0], ext)] = dict(at_provider)
        self._cloud_changed()
        await self._write_status(key, obj, [
            _condition("Ready", True, "Available", generation),
            _condition("Synced", True, "ReconcileSuccess", generation),
        ], at_provider=at_provider)
        track.available_once = True

    def _cloud_changed(self) -> None:
        """Write the simulated cloud and the operations to `cloud_out` (for tests that run the simulator as a
        process)."""
        if self.cloud_out is None:
            return
        state = {"resources": sorted([k, ext] for k, ext in self.cloud), "operations": self.operations}
        tmp = f"{self.cloud_out}.tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(state, out)
        os.replace(tmp, self.cloud_out)

    def _existing(self, key: Key, obj: Mapping[str, Any]) -> str | None:
        """The external name of a resource the estate had before this MR (an adopted one), else None."""
        ext = (obj["metadata"].get("annotations") or {}).get(facts.EXTERNAL_NAME)
        return ext if ext and (key[0], ext) in self.estate_keys and (key[0], ext) in self.cloud else None

    async def _observe_only(self, key: Key, obj: dict[str, Any], generation: int) -> None:
        """Management policies ["Observe"]: report what AWS has, never create, update or delete it."""
        ext = (obj["metadata"].get("annotations") or {}).get(facts.EXTERNAL_NAME)
        found = self.cloud.get((key[0], ext)) if ext else None
        if found is None:
            await self._write_status(key, obj, [_condition("Synced", False, "ReconcileError", generation,
                                                           NOT_FOUND_MESSAGE)])
            self._queue.add(key, time.monotonic() + self.retry_interval)
            return
        await self._write_status(key, obj, [
            _condition("Ready", True, "Available", generation),
            _condition("Synced", True, "ReconcileSuccess", generation),
        ], at_provider=dict(found))

    async def _reconcile_deletion(self, key: Key, obj: dict[str, Any], track: _Track, now: float) -> None:
        finalizers = obj["metadata"].get("finalizers") or []
        if FINALIZER not in finalizers:
            return  # not ours (never provisioned, or already released): other finalizers hold it
        if track.deleting_since is None:
            track.deleting_since = now
        generation = int(obj["metadata"].get("generation") or 1)
        conditions = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
        synced = conditions.get("Synced") or _condition("Synced", True, "ReconcileSuccess", generation)
        obj = await self._write_status(key, obj, [
            _condition("Ready", False, "Deleting", generation),
            {k: v for k, v in synced.items() if k != "lastTransitionTime"},
        ])
        if self._is_stuck(key, obj):
            return  # unstick() or removing the annotation queues it again
        due = track.deleting_since + self.ready_delay
        if now < due:
            self._queue.add(key, due)
            return
        policies = (obj.get("spec") or {}).get("managementPolicies") or ["*"]
        ext = (obj["metadata"].get("annotations") or {}).get(facts.EXTERNAL_NAME)
        if ("*" in policies or "Delete" in policies) and ext and self.cloud.pop((key[0], ext), None) is not None:
            self.operations.append(("delete", key[0], key[2], ext))
            self._cloud_changed()
        await self._set_finalizers(key, obj, [f for f in finalizers if f != FINALIZER])
        self.stats.finalizers_removed += 1

    # --- writes ----------------------------------------------------------------------------------------------

    def _ref(self, key: Key) -> ResourceRef:
        kind = self.kinds[key[0]]
        return ResourceRef(kind.api_version, kind.plural)

    async def _patch(self, key: Key, body: Mapping[str, Any], *, sub: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.request(
            "PATCH", self._ref(key).path(key[1], key[2], sub), params={"fieldManager": FIELD_MANAGER}, body=body,
            content_type=MERGE_CONTENT_TYPE)
        self._remember(key, result)
        return result

    async def _set_finalizers(self, key: Key, obj: Mapping[str, Any], finalizers: list[str]) -> dict[str, Any]:
        """Replace the whole finalizer list, guarded by resourceVersion (a 409 re-reads and retries)."""
        body = {"metadata": {"finalizers": finalizers or None, "resourceVersion": obj["metadata"]["resourceVersion"]}}
        return await self._patch(key, body)

    def _resolve(self, key: Key, obj: Mapping[str, Any]) -> references.Resolution:
        """Resolve the MR's references against the cached MRs of its namespace, with the provider's extractors
        (devtools/simulator/references.py). Observe-only MRs resolve nothing (the provider skips them too)."""
        spec = obj.get("spec") or {}
        if (spec.get("managementPolicies") or ["*"]) == ["Observe"]:
            return references.Resolution({}, None, ())
        namespace = key[1]

        def lookup(target: str, name: str) -> Mapping[str, Any] | None:
            return self._cache.get((target, namespace, name))

        def select(target: str, labels: Mapping[str, str]) -> list[Mapping[str, Any]]:
            return [o for (k, ns, _), o in sorted(self._cache.items(), key=lambda item: item[0])
                    if k == target and ns == namespace
                    and all(((o["metadata"].get("labels") or {}).get(lk) == lv) for lk, lv in labels.items())]

        resolution = references.resolve(key[0], spec.get("forProvider") or {}, lookup, select)
        if resolution.error is not None:
            self.stats.unresolved += 1
            for target, name in resolution.waits_on:
                self._waiting_on.setdefault((target, namespace, name), set()).add(key)
        return resolution

    async def _late_initialize(self, key: Key, obj: dict[str, Any], track: _Track, *,
                               add_finalizer: bool = False, resolved: Mapping[str, Any] | None = None,
                               pinned: str | None = None) -> dict[str, Any]:
        """Write resolved references into spec.forProvider, record the external name the provider would
        (rewriting one it stores differently, e.g. an Alias pinned with `alias/`, or one AWS assigns) and fill
        unset forProvider fields, as the provider does around creating (and, in coalescing mode, add the finalizer
        in the same patch)."""
        resolved = dict(resolved or {})
        current = (obj.get("spec") or {}).get("forProvider") or {}
        view = {**obj, "spec": {**(obj.get("spec") or {}), "forProvider": {**current, **resolved}}}
        subject = facts.Subject.of(self.kinds[key[0]], view, self.account_id)
        meta = obj["metadata"]
        body: dict[str, Any] = {"metadata": {"resourceVersion": meta["resourceVersion"]}}
        if add_finalizer:
            body["metadata"]["finalizers"] = [*(meta.get("finalizers") or []), FINALIZER]
        wanted = pinned or facts.identity(subject)
        if (meta.get("annotations") or {}).get(facts.EXTERNAL_NAME) != wanted:
            body["metadata"]["annotations"] = {facts.EXTERNAL_NAME: wanted}
        policies = (obj.get("spec") or {}).get("managementPolicies") or ["*"]
        fill = facts.late_init(subject) if ("*" in policies or "LateInitialize" in policies) else {}
        fill = {**resolved, **fill}
        if fill:
            body["spec"] = {"forProvider": fill}
        if len(body) == 1 and len(body["metadata"]) == 1:
            return obj
        result = await self._patch(key, body)
        self.stats.metadata_patches += 1
        self.stats.late_inits += bool(set(fill) - set(resolved))
        self.stats.references_resolved += bool(resolved)
        # Our own spec change must not restart the readiness clock.
        track.generation, track.since = int(result["metadata"].get("generation") or 1), -math.inf
        return result

    async def _write_status(self, key: Key, obj: dict[str, Any], conditions: list[dict[str, Any]], *,
                            at_provider: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Merge-patch the status subresource when anything would change; keeps unrelated condition types."""
        status = obj.get("status") or {}
        current = {c.get("type"): c for c in status.get("conditions") or []}
        changed = any(not _same_condition(c, current.get(c["type"]) or {}) for c in conditions)
        current_at = status.get("atProvider") or {}
        if at_provider is not None and (any(current_at.get(k) != v for k, v in at_provider.items())
                                        or set(current_at) - set(at_provider)):
            changed = True
        if not changed:
            return obj
        stamp = _now_rfc3339()
        merged = dict(current)
        for cond in conditions:
            old = current.get(cond["type"]) or {}
            keep = old.get("status") == cond["status"] and old.get("lastTransitionTime")
            merged[cond["type"]] = {**cond, "lastTransitionTime": keep or stamp}
        body: dict[str, Any] = {"status": {"conditions": list(merged.values()),
                                           "observedGeneration": conditions[0]["observedGeneration"]}}
        if at_provider is not None:
            # a merge patch keeps keys it does not mention: null the ones AWS no longer reports (a promoted
            # replica's replicateSourceDb)
            body["status"]["atProvider"] = {**{k: None for k in current_at if k not in at_provider}, **at_provider}
        result = await self._patch(key, body, sub="status")
        self.stats.status_writes += 1
        return result


# --------------------------------------------------------------------------------------------- helpers


def connection_info(cp: Any) -> kopf.ConnectionInfo:
    """kopf credentials for a devtools.controlplane ControlPlane (admin token + its CA)."""
    return kopf.ConnectionInfo(server=cp.server, token=cp.admin_token, scheme="Bearer", ca_path=str(cp.ca_path))


def make_client(info: kopf.ConnectionInfo) -> KubeClient:
    """A KubeClient with room for one watch per kind plus the workers' requests."""
    return KubeClient(info, max_connections=CONNECTIONS_NEEDED)


@contextlib.asynccontextmanager
async def running_simulator(cp: Any, **kwargs: Any) -> AsyncIterator[ProviderSimulator]:
    """Run a simulator against ``cp`` (a ControlPlane) as tasks of the current loop; stopped and closed on exit.

    Yields once every kind has been listed, so MRs created inside the block are seen by the watches.
    """
    client = make_client(connection_info(cp))
    sim = ProviderSimulator(client, **kwargs)
    try:
        async with sim:
            yield sim
    finally:
        await client.close()

"""Our own watches on the managed resources of the kinds we render: one LIST+WATCH per kind (and namespace),
feeding an index of owned MRs by deployment (and of who controls the others) and waking the owner's reconcile loop.

Why not kopf's per-resource handlers for these: kopf runs every event through its full handler machinery (causes,
diff bases, per-object workers), which profiling showed was most of the operator's CPU at a few thousand MRs.
Here an event is one JSON parse and a dict update. kopf still runs the RegionalDeployment side (daemons, the
deletion handler, events). The failure modes kopf handles for us we handle here too: 410 Gone -> relist; a
stream that goes silent longer than the inactivity timeout (the "silent watch stall") -> reconnect and relist;
API errors and restarts -> backoff and relist.

Why no label selector: the index must know every MR of our kinds in scope, ours or not, so that "not in the
index" means "not on the server" and a first apply needs no read to know it would not land on someone else's MR
(issue 13; a GET before each first apply was most of the operator's cost at 100 deployments, issue 15). Of an MR
we do not control only its identity and a description of its controller are kept: a few dozen bytes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp

from .. import metrics
from ..identity import DeploymentKey, MRKey, controlling_deployment, describe_controller, key_of
from ..kube import ApiError, KubeClient, ResourceRef
from ..render.kinds import KINDS, Kind
from .record import CONTROLLER_UID, carry_verification, keep_spec, slim

log = logging.getLogger("regional_operator.mrwatch")
BACKOFF = (0.5, 1, 2, 5, 10)
WATCH_SECONDS = 290  # the server ends a watch after this; we resume from the last resourceVersion


def _same_for_reconcile(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Equal in what the index keeps (not resourceVersion; the spec only through metadata.generation, which a
    spec change moves): e.g. the provider adding its finalizer. Such an event needs no reconcile pass. Without a
    generation (no real API server omits it) a spec change could not be seen, so the objects never count as the
    same."""
    if before["metadata"].get("generation") is None or after["metadata"].get("generation") is None:
        return False
    def relevant(mr: Mapping[str, Any]) -> tuple[Any, ...]:
        return mr["metadata"], mr["status"], mr["spec"]
    return relevant(before) == relevant(after)


class MRIndex:
    """Owned MRs by (namespace, deployment), and who controls every other watched MR. `synced` is set once every
    watched kind has been listed.

    An MR belongs to a deployment only through its controller owner reference (apiVersion
    platform.regional.io/v1alpha1, kind RegionalDeployment, controller: true); labels decide nothing. An MR with
    another controller or none (even with our labels) is not indexed as anyone's: `controlled_elsewhere()` names
    its controller. `owned()` hands a loop only the MRs whose controller UID is the CR's current one, so an MR of a
    deleted RegionalDeployment of the same name (a stale UID) is not taken over by its successor.
    """

    def __init__(self) -> None:
        self._by_owner: dict[DeploymentKey, dict[MRKey, dict[str, Any]]] = {}
        # (namespace, apiVersion/kind, name) -> owner: the group matters, ecs and servicediscovery both have Service
        self._owner_of: dict[tuple[str, str, str], DeploymentKey] = {}
        # (namespace, apiVersion/kind, name) -> who controls it, for the MRs no RegionalDeployment controls
        self._foreign: dict[tuple[str, str, str], str] = {}
        self._owner_keys: dict[DeploymentKey, DeploymentKey] = {}  # the one key tuple of each deployment seen
        self.synced = asyncio.Event()

    def _owner(self, obj: Mapping[str, Any]) -> tuple[DeploymentKey, str] | tuple[None, None]:
        """The deployment controlling `obj` and its UID, each one shared object per deployment (27,000 MRs name
        a hundred deployments: one key tuple and one UID string each, not one per MR)."""
        found = controlling_deployment(obj)
        if found is None:
            return None, None
        owner = self._owner_keys.setdefault(found[0], found[0])
        return owner, sys.intern(found[1])

    @staticmethod
    def _ident(obj: Mapping[str, Any]) -> tuple[str, str, str]:
        meta = obj["metadata"]
        return sys.intern(str(meta.get("namespace"))), sys.intern(f"{obj['apiVersion']}/{obj['kind']}"), meta["name"]

    def upsert(self, obj: Mapping[str, Any]) -> set[DeploymentKey]:
        """Store the MR; returns the owners to wake: none when nothing a reconcile reads has changed, both when
        the MR moved from one deployment to another (the old one must see it go)."""
        owner, uid = self._owner(obj)
        ident = self._ident(obj)
        mr_key = key_of(obj)
        previous = self._owner_of.get(ident)
        moved: set[DeploymentKey] = set()
        if previous is not None and previous != owner:
            self._forget(previous, mr_key)
            moved.add(previous)
        if owner is None or uid is None:
            self._owner_of.pop(ident, None)
            self._foreign[ident] = sys.intern(describe_controller(obj))
            return moved
        self._foreign.pop(ident, None)
        mrs = self._by_owner.setdefault(owner, {})
        before = mrs.get(mr_key) if previous == owner else None
        uid_changed = before is None or before.get(CONTROLLER_UID) != uid
        mrs[mr_key] = after = slim(obj, with_spec=False)
        after[CONTROLLER_UID] = uid
        if not carry_verification(before, after):  # most events: a verified MR's status, no spec to keep
            keep_spec(after, obj)
        self._owner_of[ident] = owner
        if before is not None and not uid_changed and _same_for_reconcile(before, after):
            return moved
        return moved | {owner}

    def _forget(self, owner: DeploymentKey, mr_key: MRKey) -> None:
        mrs = self._by_owner.get(owner, {})
        mrs.pop(mr_key, None)
        if not mrs:
            self._by_owner.pop(owner, None)
            self._owner_keys.pop(owner, None)

    def remove(self, obj: Mapping[str, Any]) -> DeploymentKey | None:
        ident = self._ident(obj)
        self._foreign.pop(ident, None)
        owner = self._owner_of.pop(ident, None)
        if owner is not None:
            self._forget(owner, key_of(obj))
        return owner

    def replace_kind(self, k: Kind, namespace: str | None, objects: Iterable[Mapping[str, Any]]) -> set[DeploymentKey]:
        """After a (re)list: the listed objects are the truth for this kind (in this namespace)."""
        touched: set[DeploymentKey] = set()
        objects = list(objects)
        type_key = f"{k.api_version}/{k.kind}"
        listed = {self._ident(o) for o in objects}

        def unlisted(idents: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
            """The identities of this kind (and namespace) the list no longer has."""
            return [i for i in idents if i[1] == type_key and (namespace is None or i[0] == namespace)
                    and i not in listed]

        for ident in unlisted(self._owner_of):
            gone = self._owner_of.pop(ident)
            self._forget(gone, (k.kind, ident[2]))
            touched.add(gone)
        for ident in unlisted(self._foreign):
            del self._foreign[ident]
        for obj in objects:
            touched |= self.upsert(obj)
        return touched

    def owned(self, namespace: str, name: str, uid: str | None) -> list[dict[str, Any]]:
        """The MRs controlled by the RegionalDeployment (namespace, name) whose UID is `uid` (the CR as it is
        now). `uid=None` (a caller without the CR's UID) matches nothing: ownership is never assumed."""
        if uid is None:
            return []
        return [mr for mr in self._by_owner.get((namespace, name), {}).values() if mr[CONTROLLER_UID] == uid]

    def controlled_elsewhere(self, obj: Mapping[str, Any], uid: str) -> str | None:
        """Who controls the MR `obj` names (namespace, group, kind, name), when that is not the RegionalDeployment
        with `uid`; None when it is ours or does not exist (as far as the synced watch has seen), so it may be
        applied. Read instead of a GET before a first apply: the watch lists every MR of our kinds in scope."""
        ident = self._ident(obj)
        foreign = self._foreign.get(ident)
        if foreign is not None:
            return foreign
        owner = self._owner_of.get(ident)
        if owner is None:
            return None
        held = self._by_owner[owner][key_of(obj)][CONTROLLER_UID]
        return None if held == uid else f"RegionalDeployment/{owner[1]} (uid {held})"

    def all(self) -> list[dict[str, Any]]:
        return [mr for mrs in self._by_owner.values() for mr in mrs.values()]

    def __len__(self) -> int:
        """The MRs some RegionalDeployment controls (those of others are counted by foreign_count())."""
        return len(self._owner_of)

    def foreign_count(self) -> int:
        return len(self._foreign)


def watched_namespaces(argv: list[str] | None = None) -> list[str] | None:
    """The namespaces `kopf run` was started with (--namespace/-n, repeatable), or None for --all-namespaces,
    so our MR watches have exactly the operator's scope (and RBAC)."""
    args = sys.argv if argv is None else argv
    found: list[str] = []
    for i, arg in enumerate(args):
        if arg in ("--namespace", "-n") and i + 1 < len(args):
            found.append(args[i + 1])
        elif arg.startswith("--namespace="):
            found.append(arg.split("=", 1)[1])
    return found or None


class MRWatcher:
    """LIST+WATCH loops for every kind in `kinds` and every namespace in scope."""

    def __init__(self, client: KubeClient, index: MRIndex, on_change: Callable[[DeploymentKey], None], *,
                 namespaces: list[str] | None, inactivity: float, kinds: Iterable[Kind] = KINDS.values()) -> None:
        self.client = client
        self.index = index
        self.on_change = on_change
        self.scopes: list[str | None] = list(namespaces) if namespaces else [None]
        self.inactivity = inactivity
        self.kinds = list(kinds)
        self._tasks: list[asyncio.Task[None]] = []
        self._pending_sync = {(k.key, ns) for k in self.kinds for ns in self.scopes}

    def start(self) -> None:
        for k in self.kinds:
            for ns in self.scopes:
                self._tasks.append(asyncio.create_task(self._loop(k, ns), name=f"watch {k.key} {ns or '*'}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _notify(self, owners: Iterable[DeploymentKey]) -> None:
        for owner in owners:
            self.on_change(owner)

    async def _loop(self, k: Kind, namespace: str | None) -> None:
        ref = ResourceRef(k.api_version, k.plural)
        failures = 0
        while True:
            try:
                listing = await self.client.request("GET", ref.path(namespace))
                items = [{**o, "apiVersion": k.api_version, "kind": k.kind} for o in listing.get("items", [])]
                self._notify(self.index.replace_kind(k, namespace, items))
                self._mark_synced(k, namespace)
                failures = 0
                await self._watch(k, ref, namespace, str(listing["metadata"]["resourceVersion"]))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a watch task must never die silently: log, back off, relist
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                log.warning("watch %s in %s: %s; relisting in %.1fs", k.key, namespace or "all namespaces",
                            err, delay)
                await asyncio.sleep(delay)

    def _mark_synced(self, k: Kind, namespace: str | None) -> None:
        self._pending_sync.discard((k.key, namespace))
        if not self._pending_sync and not self.index.synced.is_set():
            log.info("MR index synced: %d managed resources owned, %d of others, in %d kinds", len(self.index),
                     self.index.foreign_count(), len(self.kinds))
            self.index.synced.set()

    async def _watch(self, k: Kind, ref: ResourceRef, namespace: str | None, rv: str) -> None:
        """Stream events until the server ends the watch (resume), 410 (relist) or silence (relist)."""
        session = await self.client.session()
        while True:
            params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                      "timeoutSeconds": str(WATCH_SECONDS)}
            timeout = aiohttp.ClientTimeout(total=None, sock_read=self.inactivity)
            url = ref.path(namespace).lstrip("/")
            async with session.get(url, params=params, timeout=timeout) as resp:
                if resp.status >= 400:
                    raise ApiError(resp.status, await resp.text())
                async for line in resp.content:
                    event = json.loads(line)
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        raise ApiError(int(obj.get("code") or 500), str(obj.get("message")), "WatchError")
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if kind == "BOOKMARK":
                        continue
                    metrics.watch_event(k.key)
                    obj = {**obj, "apiVersion": k.api_version, "kind": k.kind}
                    if kind == "DELETED":
                        gone_from = self.index.remove(obj)
                        self._notify([gone_from] if gone_from is not None else [])
                    else:
                        self._notify(self.index.upsert(obj))

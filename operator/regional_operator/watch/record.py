"""The watch index's memory format: what the operator keeps of each live MR it owns, and the verification mark
that lets a pass skip comparing an MR whose spec it has already found in sync.

Why a format of its own: the operator holds every MR it owns in memory (20,000 at 100 deployments), so what is
kept is exactly what apply, status, outputs, the renderer's observed values and deletion read, and no more.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..identity import HASH_ANNOTATION
from ..render.adoption import ADOPTED_ANNOTATION
from ..render.observed import OBSERVED_ATTRIBUTES

SPEC_BLOB: Final = "specBlob"  # key of the compressed live spec in a slimmed MR (see slim())
VERIFIED: Final = "verifiedHash"  # the applied-hash a slimmed MR was found in sync with (see mark_verified())
# the UID of the RegionalDeployment that controls a slimmed MR (set by the index: watch.mrwatch.MRIndex.upsert)
CONTROLLER_UID: Final = "controllerUid"
CONDITION_FIELDS: Final = ("type", "status", "reason", "message", "observedGeneration")


_SHARED: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
_SHARED_SPECS: dict[tuple[Any, ...], dict[str, Any]] = {}
_SHARED_LIMIT = 100_000


def _one_copy(table: dict[Any, dict[str, Any]], key: Any, build: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """The copy of `key` in `table`, built once. The table is bounded: past the limit it is emptied and refills
    with what is live (the copies already handed out stay valid)."""
    found = table.get(key)
    if found is None:
        if len(table) >= _SHARED_LIMIT:
            table.clear()
        found = table[key] = build(key)
    return found


def _intern(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) else value


def _shared(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """One read-only copy of each distinct small mapping of scalars (label sets, message-less conditions).

    Why: 20,000 MRs carry a few dozen distinct label sets per deployment and a handful of distinct conditions
    (Ready/True/Available at generation 2...). Nothing mutates what the index holds.
    """
    return _one_copy(_SHARED, tuple(mapping.items()), lambda key: {sys.intern(k): _intern(v) for k, v in key})


def _shared_spec(policies: list[Any]) -> dict[str, Any]:
    """One read-only slimmed spec (`{"managementPolicies": [...]}`) per distinct policy list: a handful in all."""
    return _one_copy(_SHARED_SPECS, tuple(policies), lambda key: {"managementPolicies": [_intern(v) for v in key]})


def _condition(cond: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: cond[k] for k in CONDITION_FIELDS if k in cond}
    return kept if kept.get("message") else _shared(kept)  # messages vary: not worth a shared copy


def _small(value: Any) -> bool:
    """A scalar, or an object of scalars (a bucket's versioningConfiguration): what an observed attribute may be."""
    if isinstance(value, dict):
        return all(isinstance(v, str | int | float | bool) for v in value.values())
    return isinstance(value, str | int | float | bool)


def slim(obj: Mapping[str, Any], *, with_spec: bool = True) -> dict[str, Any]:
    """What the operator keeps of a live MR, for as long as it watches it: exactly what apply, status, outputs,
    the renderer's observed values and deletion read, and no more.

    Why: the operator holds every MR it owns in memory (27,000 at 100 deployments). A full object is
    managedFields, the provider's mirror of the spec in atProvider, timestamps and the spec itself: ~15 KB per MR
    as Python objects. Kept here: name, namespace, labels (shared), our applied-hash, generation and
    deletionTimestamp (not resourceVersion: nothing reads it, and it is a string per MR); the condition fields
    readiness needs; the atProvider strings the renderer and the outputs read (render.observed.OBSERVED_ATTRIBUTES:
    ids, ARNs, DNS names, URLs; their keys interned); managementPolicies (one shared spec per distinct list); and,
    unless `with_spec` is False (the caller attaches it later if needed: keep_spec()), the spec itself compressed
    (drift detection compares it, rarely: see apply.needs_apply).
    """
    meta = obj["metadata"]
    kept_meta: dict[str, Any] = {"name": meta["name"], "namespace": sys.intern(str(meta.get("namespace"))),
                                 "labels": _shared(meta.get("labels") or {})}
    annotations = meta.get("annotations") or {}
    digest = annotations.get(HASH_ANNOTATION)
    if digest is not None:
        kept_meta["annotations"] = {HASH_ANNOTATION: digest}
    adopted = annotations.get(ADOPTED_ANNOTATION)
    if adopted is not None:  # the few adopted MRs keep their whole atProvider: status reports their drift from it
        kept_meta.setdefault("annotations", {})[ADOPTED_ANNOTATION] = adopted
    for name in ("generation", "deletionTimestamp"):
        if meta.get(name) is not None:
            kept_meta[name] = meta[name]
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    kept_status: dict[str, Any] = {
        "conditions": [_condition(c) for c in conditions],
        "atProvider": dict(status.get("atProvider") or {}) if adopted is not None else {
            sys.intern(k): v for k, v in (status.get("atProvider") or {}).items()
            if k in OBSERVED_ATTRIBUTES and _small(v)},
    }
    spec = obj.get("spec") or {}
    out: dict[str, Any] = {"apiVersion": sys.intern(str(obj["apiVersion"])), "kind": sys.intern(str(obj["kind"])),
                           "metadata": kept_meta, "status": kept_status, "spec": {}}
    if "managementPolicies" in spec:
        out["spec"] = _shared_spec(spec["managementPolicies"])
    if with_spec:
        keep_spec(out, obj)
    return out


def keep_spec(kept: dict[str, Any], obj: Mapping[str, Any]) -> None:
    """Attach `obj`'s spec, compressed, to its slimmed copy `kept`."""
    kept[SPEC_BLOB] = zlib.compress(json.dumps(obj.get("spec") or {}, separators=(",", ":")).encode(), 1)


def mark_verified(live: dict[str, Any], digest: str) -> None:
    """Record that this live MR holds everything we render for `digest`; its spec is no longer needed (the next
    spec change moves metadata.generation and arrives as a new object, compared afresh). The MR's own copy of the
    digest (its hash annotation) is kept when equal: one string per MR, not two."""
    own = (live["metadata"].get("annotations") or {}).get(HASH_ANNOTATION)
    live[VERIFIED] = own if own == digest else digest
    live.pop(SPEC_BLOB, None)


def is_verified(live: Mapping[str, Any], digest: str) -> bool:
    return bool(live.get(VERIFIED) == digest)


def carry_verification(before: Mapping[str, Any] | None, after: dict[str, Any]) -> bool:
    """A new copy of a verified MR stays verified when its generation, labels and annotations are unchanged: the
    provider's status writes do not make us compare the spec again (and the spec need not be kept). True when the
    verification was carried over."""
    digest = None if before is None else before.get(VERIFIED)
    if before is None or digest is None:
        return False
    old, new = before["metadata"], after["metadata"]
    if new.get("generation") is None:
        return False  # without a generation a spec change cannot be told apart: compare afresh
    if all(old.get(k) == new.get(k) for k in ("generation", "labels", "annotations")):
        mark_verified(after, digest)
        return True
    return False


def live_spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The spec of a live MR, whether slimmed (decompressed on demand) or as the API server returned it."""
    blob = obj.get(SPEC_BLOB)
    if blob is not None:
        spec: Mapping[str, Any] = json.loads(zlib.decompress(blob))
        return spec
    return obj.get("spec") or {}

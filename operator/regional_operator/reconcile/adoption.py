"""Status of adopted resources (spec.regions[].adopt): identifiers AWS does not know, requirements an adopted
resource does not meet yet, and, while a component is observed only, how it differs from what Manage would set.

Judged from the RenderResult (which MRs are adopted, what is Blocked) and the live MRs; nothing here renders or
calls the API. The same field comparison serves the `plan` CLI (plan.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..identity import MRKey
from ..readiness import condition
from ..render import RenderResult
from .conditions import MAX_LISTED, Condition

ADOPTION_DRIFT: Final = "AdoptionDrift"
# crossplane-runtime pkg/reconciler/managed/reconciler.go: an Observe-only MR whose external resource does not
# exist gets Synced=False ReconcileError "observe failed: external resource does not exist" (errReconcileObserve
# wrapping errExternalResourceNotExist); with Create allowed it would create one instead, so the renderer gives an
# adopted MR in Manage the Create policy only once the provider has reported the resource (render/adoption.py).
NOT_FOUND: Final = "external resource does not exist"
# forProvider fields that are not AWS settings: references the provider resolves, and what the shell adds.
_NOT_SETTINGS: Final = ("Ref", "Refs", "Selector")


def setting_differences(for_provider: Mapping[str, Any], at_provider: Mapping[str, Any]) -> list[str]:
    """The forProvider fields whose value differs from what the provider reports (`status.atProvider`): what Manage
    would change. References and fields the provider does not report are left out (nothing to compare)."""
    out: list[str] = []
    for field, wanted in sorted(for_provider.items()):
        if field.endswith(_NOT_SETTINGS) or field not in at_provider:
            continue
        if not _same(wanted, at_provider[field]):
            out.append(field)
    return out


def _same(wanted: Any, live: Any) -> bool:
    """`wanted` is what we set: maps compare on our keys only (AWS adds its own), lists item by item."""
    if isinstance(wanted, Mapping):
        return isinstance(live, Mapping) and all(k in live and _same(v, live[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(wanted) == len(live) and all(
            _same(w, v) for w, v in zip(wanted, live, strict=True))
    if isinstance(wanted, int | float) and isinstance(live, int | float) and not isinstance(wanted, bool):
        return float(wanted) == float(live)
    return bool(wanted == live)


def not_found(live: Mapping[str, Any]) -> str | None:
    """The provider's message when it reports the adopted resource does not exist, else None."""
    synced = condition(live, "Synced")
    if synced and synced.get("status") == "False" and NOT_FOUND in str(synced.get("message", "")):
        return str(synced.get("message"))
    return None


def _listing(items: Sequence[str]) -> str:
    more = len(items) - MAX_LISTED
    return "; ".join(items[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")


def missing_resources(result: RenderResult, live: Mapping[MRKey, Mapping[str, Any]]) -> list[str]:
    """Adopted MRs whose identifier AWS does not know: "Kind/name (field identifier): provider message"."""
    out = []
    for (kind, name), adopted in sorted(result.adopted.items()):
        if adopted.setting:  # a bucket without, say, a lifecycle configuration: drift, not a wrong identifier
            continue
        current = live.get((kind, name))
        message = not_found(current) if current is not None else None
        if message is not None:
            out.append(f"{kind}/{name} ({adopted.field} {adopted.identifier}): {message}")
    return out


def stalled_by_adoption(result: RenderResult, live: Mapping[MRKey, Mapping[str, Any]]) -> tuple[str, str] | None:
    """(reason, message) when adoption cannot go on until the user acts, else None: an adopted identifier the
    provider does not find (nothing is created in its place), or a requirement an adopted resource does not meet."""
    missing = missing_resources(result, live)
    if missing:
        return "AdoptedResourceNotFound", ("adopted resources do not exist in AWS (nothing is created in their "
                                           "place; correct the identifier): " + _listing(missing))
    if result.blocked:
        return "AdoptionBlocked", ("adopted resources must change before what depends on them can be made: "
                                   + _listing([str(b) for b in result.blocked]))
    return None


def drift_condition(result: RenderResult, live: Mapping[MRKey, Mapping[str, Any]]) -> Condition | None:
    """AdoptionDrift while any adopted MR is observed only: True listing, per MR, the settings Manage would change;
    False when none would change; None when nothing is in Observe."""
    observed_only = {k: a for k, a in result.adopted.items() if a.observe_only}
    if not observed_only:
        return None
    desired = {(r["kind"], r["metadata"]["name"]): r for r in result.resources}
    drifts, unread = [], 0
    for key in sorted(observed_only):
        current = live.get(key)
        at_provider = ((current or {}).get("status") or {}).get("atProvider") or {}
        if not at_provider:
            unread += 1
            continue
        fields = setting_differences(desired[key]["spec"]["forProvider"], at_provider)
        if fields:
            drifts.append(f"{key[0]}/{key[1]}: {', '.join(fields)}")
    if drifts:
        return Condition(ADOPTION_DRIFT, True, "ManageWouldChange",
                         "in Manage these settings would change (regional-operator plan shows the values): "
                         + _listing(drifts))
    if unread:
        return Condition(ADOPTION_DRIFT, None, "NotObservedYet",
                         f"{unread} adopted resources not reported by the provider yet")
    return Condition(ADOPTION_DRIFT, False, "MatchesSpec", "the adopted resources already match what Manage sets")

"""What names things across the operator: the RegionalDeployment kind, the annotation the operator puts on the
MRs it applies, and the keys a deployment and an MR are known by. No I/O and no imports from either wing, so the
render wing, the watch side and the reconcile wing all read the same names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

GROUP: Final = "platform.regional.io"
VERSION: Final = "v1alpha1"
PLURAL: Final = "regionaldeployments"
KIND: Final = "RegionalDeployment"
HASH_ANNOTATION: Final = f"{GROUP}/applied-hash"

MRKey = tuple[str, str]  # (kind, metadata.name) of an MR - names are unique per kind within a namespace
DeploymentKey = tuple[str, str]  # (namespace, metadata.name) of a RegionalDeployment


def key_of(obj: Mapping[str, Any]) -> MRKey:
    return str(obj["kind"]), str(obj["metadata"]["name"])


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object's controller owner reference (at most one has controller: true), or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") is True:
            return dict(ref)
    return None


def controlling_deployment(obj: Mapping[str, Any]) -> tuple[DeploymentKey, str] | None:
    """((namespace, name), uid) of the RegionalDeployment that controls `obj`, or None.

    Ownership is this reference and nothing else: labels can be written by anyone who may create MRs in the
    namespace, and a name can be reused by a new object; the UID of the controller reference cannot. An owner
    reference names an object of the same namespace, so the MR's namespace is the deployment's.
    """
    ref = controller_of(obj)
    if ref is None or ref.get("apiVersion") != f"{GROUP}/{VERSION}" or ref.get("kind") != KIND:
        return None
    uid, name = ref.get("uid"), ref.get("name")
    if not uid or not name:
        return None
    return (str(obj["metadata"].get("namespace")), str(name)), str(uid)


def describe_controller(obj: Mapping[str, Any]) -> str:
    """Who controls `obj`, for a Conflict message: `<Kind>/<name> (uid <uid>)`, or "no controller"."""
    ref = controller_of(obj)
    if ref is None:
        return "no controller"
    return f"{ref.get('kind')}/{ref.get('name')} (uid {ref.get('uid')})"

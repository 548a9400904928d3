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

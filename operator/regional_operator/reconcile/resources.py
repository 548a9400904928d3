"""Where a live MR lives: its REST location; and where our own RegionalDeployment lives. Apply, prune and delete
need these (the MR's kinds-table entry and deletion tier are in tiers.py, which needs no API client)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..identity import GROUP, PLURAL, VERSION
from ..kube import ResourceRef
from .tiers import kind_of

CR_REF: Final = ResourceRef(f"{GROUP}/{VERSION}", PLURAL)


def ref_of(obj: Mapping[str, Any]) -> ResourceRef:
    k = kind_of(obj)
    return ResourceRef(k.api_version, k.plural)

"""Install CustomResourceDefinitions into a test cluster the way a user would: the real kubectl, server-side apply.

Server-side apply is not a style choice: the Crossplane provider CRDs are far larger than the 256 KiB
``last-applied-configuration`` annotation that client-side apply would write, so only SSA can apply them.
All files go to one ``kubectl apply`` (one process, one discovery round-trip); measured on the 2-core CI box,
splitting the apply over parallel kubectl processes does not help because the API server's CRD establishing
work is the bottleneck (~9 s for all 168 Crossplane CRDs either way).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from .harness import REPO_ROOT, ControlPlane, ControlPlaneError

ENV_SHARED = "REGIONAL_OPERATOR_SHARED"
FIELD_MANAGER = "regional-operator-tests"
CRD_PREFIX = "customresourcedefinition.apiextensions.k8s.io/"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
PROVIDER_AWS_DIR = "provider-aws-v2.6.0"
CORE_DIR = "core"

# Seconds the last install_crds() call spent applying and waiting, for reports and benchmarks.
last_install_timings: dict[str, float] = {}


def shared_dir() -> Path:
    """The shared data directory: ``$REGIONAL_OPERATOR_SHARED``, else ``<repo>/../shared`` (CI's layout)."""
    return Path(os.environ.get(ENV_SHARED) or REPO_ROOT.parent / "shared")


def crossplane_crd_dirs() -> list[Path]:
    """The directories of Crossplane CRDs the project validates against (provider-aws v2.6.0 and core)."""
    root = shared_dir() / "crossplane"
    dirs = [root / PROVIDER_AWS_DIR, root / CORE_DIR]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise ControlPlaneError(
            f"Crossplane CRDs not found: {', '.join(missing)}; set ${ENV_SHARED} to the directory that holds "
            "crossplane/ (default: <repo>/../shared)")
    return dirs


def project_crd_dir() -> Path:
    return REPO_ROOT / "crds"


def manifest_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories (non-recursively, like ``kubectl apply -f dir``) into their manifest files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise ControlPlaneError(f"no such CRD file or directory: {path}")
    return files


def install_crds(cp: ControlPlane, paths: Iterable[Path], *, timeout: float = 300.0) -> list[str]:
    """Server-side apply every manifest under ``paths`` and wait until each CRD is Established.

    Returns the CRD names (``<plural>.<group>``) in apply order; an empty list when there is nothing to apply.
    ``--force-conflicts`` lets a re-run (or another field manager's earlier apply) take ownership instead of
    failing, which keeps the helper idempotent across test sessions on a shared cluster.
    """
    files = manifest_files(paths)
    if not files:
        return []
    began = time.monotonic()
    applied = cp.kubectl(
        "apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}", "-o", "name",
        *(arg for f in files for arg in ("-f", str(f))), timeout=timeout,
    ).stdout.split()
    applied_at = time.monotonic()
    names = [ref.removeprefix(CRD_PREFIX) for ref in applied if ref.startswith(CRD_PREFIX)]
    wait_established(cp, names, timeout=timeout)
    last_install_timings.clear()
    last_install_timings.update(apply=round(applied_at - began, 2), wait=round(time.monotonic() - applied_at, 2),
                                files=len(files), crds=len(names))
    return names


def established_crds(cp: ControlPlane) -> set[str]:
    """Names of the CRDs whose Established condition is True, from a single LIST."""
    items = cp.kubectl_json("get", "customresourcedefinitions")["items"]
    return {
        item["metadata"]["name"]
        for item in items
        if any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (item.get("status") or {}).get("conditions") or [])
    }


def wait_established(cp: ControlPlane, names: Iterable[str], *, timeout: float = 300.0) -> None:
    """Block until every CRD in ``names`` is Established (what ``kubectl wait --for=condition=Established`` does).

    Not ``kubectl wait`` itself: it makes one request per object under kubectl's client-side limit of 5 QPS,
    i.e. ~32 s for the 168 Crossplane CRDs that are already Established; one LIST per poll takes ~1 s.
    """
    pending = set(names)
    deadline = time.monotonic() + timeout
    while pending:
        pending -= established_crds(cp)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"CRDs not Established after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.5)


def install_project_crds(cp: ControlPlane) -> list[str]:
    """Install whatever CRDs the repository ships in ``crds/`` (none yet is fine: returns ``[]``)."""
    return install_crds(cp, [project_crd_dir()])


def install_crossplane_crds(cp: ControlPlane) -> list[str]:
    """Install all Crossplane provider-aws v2.6.0 and core CRDs (legacy cluster-scoped kinds included)."""
    return install_crds(cp, crossplane_crd_dirs())


__all__ = [
    "ENV_SHARED", "FIELD_MANAGER", "crossplane_crd_dirs", "established_crds", "install_crds", "install_crossplane_crds",
    "install_project_crds", "last_install_timings", "manifest_files", "project_crd_dir", "shared_dir",
    "wait_established",
]

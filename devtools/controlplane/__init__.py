"""Real control plane for tests: see ``harness`` (processes) and ``crds`` (CRD install helpers)."""

from .crds import (
    crossplane_crd_dirs,
    install_crds,
    install_crossplane_crds,
    install_project_crds,
    project_crd_dir,
    shared_dir,
)
from .harness import (
    ControlPlane,
    ControlPlaneError,
    ExternalCluster,
    KubectlError,
    LocalControlPlane,
    RequestCounters,
    Sample,
    expected_kubernetes_version,
    find_bin_dir,
    pid_alive,
    process_group_members,
    wait_for,
)

__all__ = [
    "ControlPlane", "ControlPlaneError", "ExternalCluster", "KubectlError", "LocalControlPlane",
    "RequestCounters", "Sample", "crossplane_crd_dirs", "expected_kubernetes_version", "find_bin_dir",
    "install_crds", "install_crossplane_crds", "install_project_crds", "pid_alive", "process_group_members",
    "project_crd_dir", "shared_dir", "wait_for",
]

"""The real Crossplane AWS provider (provider-aws v2.5.0, monolith) run out of cluster against the test API server.

- The binary comes from ``devtools/controlplane/build_provider.sh`` (cached; a cold build is long, see
  docs/controlplane.md) or ``$REGIONAL_OPERATOR_PROVIDER_BIN``. It is never looked up on $PATH.
- Its CRDs are the v2.5.0 module's own ``package/crds`` (the provider must run against the CRDs it was built
  for), limited to the namespaced kinds we render plus the ProviderConfig kinds.
- ``--certs-dir=`` (empty, given explicitly) turns webhooks off (``StartWebhooks: *certsDir != ""`` in
  cmd/provider/monolith/zz_main.go); metrics and health probes bind to free loopback ports.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from regional_operator.render.kinds import KINDS

from devtools import processes
from tests.provider.emulator import ACCESS_KEY, SECRET_KEY

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "devtools" / "controlplane" / "build_provider.sh"
TOOLS = REPO / "devtools" / "controlplane" / "tools" / "provider"
MODULE = "github.com/upbound/provider-aws/v2"
ENV_BIN = "REGIONAL_OPERATOR_PROVIDER_BIN"

PROVIDER_CONFIG_CRDS = ("aws.m.upbound.io_clusterproviderconfigs.yaml", "aws.m.upbound.io_providerconfigs.yaml",
                        "aws.m.upbound.io_providerconfigusages.yaml")

# Terraform AWS provider service-package names (names/consts_gen.go of the terraform-provider-aws fork): the keys
# of ClusterProviderConfig spec.endpoint.services, copied into the Terraform client's Endpoints map
# (configureNoForkAWSClient in internal/clients/aws.go). Every service a rendered kind calls, plus STS.
ENDPOINT_SERVICES = ("cloudwatch", "dynamodb", "ec2", "ecs", "elbv2", "iam", "kms", "lambda", "logs", "rds", "s3",
                     "servicediscovery", "sns", "sqs", "ssm", "sts", "wafv2")

CREDENTIALS_NAMESPACE = "crossplane-system"
CREDENTIALS_SECRET = "aws-emulator-credentials"


class ProviderUnavailable(RuntimeError):
    """The provider binary could not be found or built; the message says how to get it."""


def binary() -> Path:
    """``$REGIONAL_OPERATOR_PROVIDER_BIN``, else build_provider.sh's cached binary (built now if absent)."""
    env = os.environ.get(ENV_BIN)
    if env:
        path = Path(env)
        if not os.access(path, os.X_OK):
            raise ProviderUnavailable(f"${ENV_BIN}={env} is not an executable file")
        return path
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ProviderUnavailable(f"{BUILD_SCRIPT} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def module_dir() -> Path:
    """The provider module's directory in the Go module cache (the version the tools module pins)."""
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GONOSUMDB": "github.com/upbound/terraform-provider-aws"}
    proc = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", MODULE], cwd=TOOLS, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ProviderUnavailable(f"go list -m {MODULE} in {TOOLS} failed: {proc.stderr.strip()}")
    return Path(proc.stdout.strip())


def crd_file_names() -> list[str]:
    """The ``package/crds`` file names of every namespaced kind we render (taken from the renderer's kind table, so
    a new kind is installed without touching the tier), then the ProviderConfig kinds."""
    names = [f"{k.group}_{k.plural}.yaml" for k in sorted(KINDS.values(), key=lambda k: k.key)]
    return names + list(PROVIDER_CONFIG_CRDS)


def crd_files() -> list[Path]:
    """The v2.5.0 CRDs of every namespaced kind we render, and of the ProviderConfig kinds."""
    crds = module_dir() / "package" / "crds"
    files = [crds / name for name in crd_file_names()]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ProviderUnavailable(f"provider CRDs missing from the module: {', '.join(missing)}")
    return files


def credentials_secret() -> dict[str, Any]:
    """The static keys moto accepts (it checks none); the provider reads them as an AWS shared-credentials file
    (``UseProviderSecret`` with the ``default`` section)."""
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": CREDENTIALS_SECRET, "namespace": CREDENTIALS_NAMESPACE},
        "stringData": {"credentials": f"[default]\naws_access_key_id = {ACCESS_KEY}\n"
                                      f"aws_secret_access_key = {SECRET_KEY}\n"},
    }


def cluster_provider_config(endpoint_url: str, name: str = "default") -> dict[str, Any]:
    """Every service we use at the emulator (``endpoint.url.type: Static``), no STS call for the account id
    (``skip_credentials_validation``: the provider then uses 000000000000), no instance-metadata lookups, and
    path-style S3 (a loopback host cannot serve virtual-host-style bucket names)."""
    return {
        "apiVersion": "aws.m.upbound.io/v1beta1", "kind": "ClusterProviderConfig",
        "metadata": {"name": name},
        "spec": {
            "credentials": {"source": "Secret", "secretRef": {
                "namespace": CREDENTIALS_NAMESPACE, "name": CREDENTIALS_SECRET, "key": "credentials"}},
            "endpoint": {"url": {"type": "Static", "static": endpoint_url}, "services": list(ENDPOINT_SERVICES),
                         "hostnameImmutable": True},
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
            "skip_requesting_account_id": True,
            "s3_use_path_style": True,
        },
    }


def manifests(endpoint_url: str) -> str:
    """The namespace, Secret and ClusterProviderConfig as one kubectl-applyable JSON list."""
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CREDENTIALS_NAMESPACE}},
             credentials_secret(), cluster_provider_config(endpoint_url)]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def process(exe: Path, kubeconfig: Path, *, poll: str = "5s", debug: bool = False) -> processes.Process:
    """The provider binary as a child process (own process group, output in a temp file)."""
    metrics, health = processes.free_port(), processes.free_port()
    argv = [str(exe), f"--poll={poll}", "--sync=1h", "--certs-dir=", "--max-reconcile-rate=20",
            f"--metrics-bind-address=127.0.0.1:{metrics}", f"--health-probe-bind-addr=127.0.0.1:{health}",
            *(["--debug"] if debug else [])]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(var, None)  # nothing but the ProviderConfig may supply credentials
    proc = processes.Process("provider-aws", argv, env)
    proc.health_url = f"http://127.0.0.1:{health}/healthz"  # type: ignore[attr-defined]
    return proc

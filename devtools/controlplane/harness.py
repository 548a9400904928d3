"""A real Kubernetes control plane for tests: etcd + kube-apiserver + kube-controller-manager, no Docker.

This is the controller-runtime *envtest* method done in Python: the binaries come from
``devtools/controlplane/build.sh`` (built from Go modules, cached outside the repository), each component runs as
its own process group on free loopback ports, and everything lives in one temporary directory that is removed
on exit. Behaviour that matters to the operator (server-side apply, CRD structural-schema validation, RBAC,
watches, owner-reference garbage collection, namespace deletion) is therefore the real thing, not a fake.

``ControlPlane.start()`` is the only entry point tests need. When ``$REGIONAL_OPERATOR_KUBECONFIG`` names a
kubeconfig it returns an :class:`ExternalCluster` (same interface, no processes) instead, so the same tests run
against kind or any other cluster.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
BUILD_SCRIPT = HERE / "build.sh"
K8S_TOOLS_GO_MOD = HERE / "tools" / "k8s" / "go.mod"

ENV_BIN = "REGIONAL_OPERATOR_BIN"
ENV_KUBECONFIG = "REGIONAL_OPERATOR_KUBECONFIG"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "helm")

ADMIN_USER = "admin"
DEVELOPER_USER = "developer"
LOOPBACK = "127.0.0.1"

# Controller names as of k8s 1.28+ (the old aliases "garbagecollector"/"namespace" map onto these).
CONTROLLERS = ("garbage-collector-controller", "namespace-controller")

SETUP_HINT = (
    "Build the control-plane binaries with `bash devtools/controlplane/build.sh` (needs Go and the module proxy; "
    "a cold build takes several minutes) or point $REGIONAL_OPERATOR_BIN at a directory holding "
    f"{', '.join(BINARIES)}; or set $REGIONAL_OPERATOR_KUBECONFIG to run against an existing cluster (kind)."
)


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or used; the message says what to do next."""


class KubectlError(subprocess.CalledProcessError):
    """A kubectl call failed; unlike CalledProcessError its str() carries kubectl's stderr (the server's words)."""

    MAX_STDERR: ClassVar[int] = 4000  # kubectl can echo a whole 10 MB object when a template fails

    def __str__(self) -> str:
        stderr = (self.stderr or "").strip()
        if len(stderr) > self.MAX_STDERR:
            stderr = stderr[: self.MAX_STDERR] + f"... [{len(stderr) - self.MAX_STDERR} more characters]"
        return f"{' '.join(map(str, self.cmd))} exited {self.returncode}: {stderr}"


# --------------------------------------------------------------------------------------------------- binaries


def expected_kubernetes_version() -> str:
    """The Kubernetes version the tools module pins (e.g. ``v1.36.3``): what a local control plane must report."""
    match = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)", K8S_TOOLS_GO_MOD.read_text(), re.MULTILINE)
    if not match:
        raise ControlPlaneError(f"no k8s.io/kubernetes requirement in {K8S_TOOLS_GO_MOD}")
    return match.group(1)


def _missing_binaries(bin_dir: Path) -> list[str]:
    return [name for name in BINARIES if not os.access(bin_dir / name, os.X_OK)]


def find_bin_dir() -> Path:
    """Locate the binaries: ``$REGIONAL_OPERATOR_BIN`` if set, else ``build.sh`` (instant when cached).

    Never silently falls back to whatever is on $PATH: the tests must run the pinned versions.
    """
    env = os.environ.get(ENV_BIN)
    if env:
        bin_dir = Path(env)
        source = f"${ENV_BIN}={env}"
    else:
        bin_dir = _run_build_script()
        source = str(BUILD_SCRIPT)
    missing = _missing_binaries(bin_dir)
    if missing:
        raise ControlPlaneError(f"{source}: {bin_dir} lacks {', '.join(missing)}. {SETUP_HINT}")
    return bin_dir


def _run_build_script() -> Path:
    """Run build.sh in its own process group so an interrupt during a cold build kills the whole go build."""
    with subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            _kill_group(proc.pid, signal.SIGKILL)
            raise
    if proc.returncode != 0 or not out.strip():
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed ({proc.returncode}): {_tail(err)}\n{SETUP_HINT}")
    return Path(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    """A currently free loopback port (the kernel's pick; racy in theory, fine for one machine's test runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (os.kill(pid, 0) alone counts zombies as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def process_group_members(pgid: int) -> list[int]:
    """PIDs (live, non-zombie) whose process group is ``pgid``: proves a component left no child behind."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@dataclass
class Component:
    """One control-plane process: its command line, its log file, and its process group (pid == pgid)."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> None:
        """Start in a new session (own process group) so stop() can kill it and anything it forked.

        ``setpriv --pdeathsig KILL`` (util-linux) makes the kernel kill the component if the Python process
        dies without running any cleanup (SIGKILL, OOM), the one case atexit cannot cover.
        """
        prefix = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                prefix + self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds, and reap the leader."""
        if self.popen is None:
            return
        pgid = self.popen.pid
        _kill_group(pgid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _kill_group(pgid, signal.SIGKILL)
            self.popen.wait(timeout=grace)
        _kill_group(pgid, signal.SIGKILL)  # stragglers in the group, if the leader forked any
        self.popen = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return "(no log)"

    def fail(self, reason: str) -> ControlPlaneError:
        return ControlPlaneError(f"{self.name} {reason}; last lines of {self.log_path}:\n{self.log_tail()}")


def _wait_until(component: Component, check: Any, timeout: float, what: str) -> None:
    """Poll ``check()`` until it is truthy; fail fast (with the log) if the component exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if not component.running():
            raise component.fail(f"exited before {what}")
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
            if check():
                return
        if time.monotonic() > deadline:
            raise component.fail(f"not {what} after {timeout:.0f}s")
        time.sleep(0.1)


def _http_get(url: str, *, context: ssl.SSLContext | None = None, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode(errors="replace")


# ------------------------------------------------------------------------------------------------ kubeconfig


def write_kubeconfig(path: Path, *, server: str, ca_pem: bytes, user: str, token: str | None = None,
                     impersonate: str | None = None, user_fields: Mapping[str, Any] | None = None) -> Path:
    """Write a single-context kubeconfig; the CA is embedded so the file stays valid if copied elsewhere."""
    auth: dict[str, Any] = dict(user_fields or {})
    if token:
        auth["token"] = token
    if impersonate:
        auth["as"] = impersonate
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "regional-operator-test", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": auth}],
        "contexts": [{"name": user, "context": {"cluster": "regional-operator-test", "user": user}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# ----------------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Sample:
    """One ``apiserver_request_total`` series: its labels (verb, resource, code, ...) and its value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class RequestCounters:
    """Parsed ``apiserver_request_total`` counters, so tests can count the API calls the operator makes."""

    samples: tuple[Sample, ...]

    def total(self, **match: str) -> float:
        """Sum of the series whose labels include all of ``match`` (e.g. ``verb="PATCH", resource="vpcs"``)."""
        return sum(s.value for s in self.samples if all(s.labels.get(k) == v for k, v in match.items()))

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)


def parse_request_counters(text: str) -> RequestCounters:
    """Parse only the ``apiserver_request_total`` lines of a /metrics page (the whole page is megabytes)."""
    wanted = "\n".join(
        line for line in text.splitlines()
        if line.startswith("apiserver_request_total") or line.startswith(("# HELP apiserver_request_total",
                                                                          "# TYPE apiserver_request_total"))
    )
    samples = [
        Sample(labels=dict(s.labels), value=float(s.value))
        for family in text_string_to_metric_families(wanted + "\n")
        for s in family.samples
        if s.name == "apiserver_request_total"
    ]
    return RequestCounters(tuple(samples))


# ---------------------------------------------------------------------------------------------- interface


class ControlPlane(ABC):
    """What tests get: an API server to talk to, credentials for two identities, and the real kubectl.

    Use as a context manager (``with ControlPlane.start() as cp:``); leaving the block stops everything that
    was started. Attributes shared by both implementations are listed below.
    """

    server: str
    """``https://127.0.0.1:<port>`` (or the external cluster's server URL)."""
    admin_token: str | None
    """Bearer token of user ``admin`` in ``system:masters``; None on an external cluster without a token."""
    kubeconfig_path: Path
    """Admin kubeconfig (full access)."""
    developer_kubeconfig_path: Path
    """Kubeconfig of user ``developer``: authenticated, no RBAC grants beyond the defaults."""
    ca_path: Path
    """PEM file of the CA that signed the API server's serving certificate."""
    bin_dir: Path
    """Directory with kubectl and helm (and, locally, etcd/kube-apiserver/kube-controller-manager)."""

    @classmethod
    def start(cls, *, bin_dir: Path | None = None, allow_external: bool = True,
              startup_timeout: float = 120.0) -> ControlPlane:
        """Start a local control plane, or attach to ``$REGIONAL_OPERATOR_KUBECONFIG`` if set and allowed.

        ``allow_external=False`` forces local processes (for tests about the harness's own process handling).
        """
        external = os.environ.get(ENV_KUBECONFIG)
        if allow_external and external:
            return ExternalCluster.attach(Path(external), bin_dir=bin_dir)
        return LocalControlPlane.launch(bin_dir=bin_dir, startup_timeout=startup_timeout)

    # --- lifecycle -----------------------------------------------------------------------------------------

    @abstractmethod
    def stop(self) -> None:
        """Release everything this object started (idempotent)."""

    @abstractmethod
    def restart_apiserver(self) -> None:
        """Stop and start kube-apiserver and etcd, keeping etcd's data (for fault-tolerance tests)."""

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- talking to the API --------------------------------------------------------------------------------

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def helm_path(self) -> Path:
        return self.bin_dir / "helm"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, as_developer: bool = False,
                timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster (admin unless ``as_developer``); text in, text out.

        With ``check`` (default) a non-zero exit raises :class:`KubectlError` whose message is kubectl's
        stderr, i.e. the API server's own refusal text.
        """
        kubeconfig = self.developer_kubeconfig_path if as_developer else self.kubeconfig_path
        argv = [str(self.kubectl_path), f"--kubeconfig={kubeconfig}", *args]
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, argv, proc.stdout, proc.stderr)
        return proc

    def kubectl_json(self, *args: str, input: str | None = None, as_developer: bool = False,
                     timeout: float = 300.0) -> Any:
        """``kubectl <args> -o json`` parsed; raises KubectlError on failure."""
        out = self.kubectl(*args, "-o", "json", input=input, as_developer=as_developer, timeout=timeout).stdout
        return json.loads(out)

    def api_client(self, *, as_developer: bool = False) -> ApiClient:
        """A ``kubernetes`` Python client for this cluster; close it (or use ``with``) when done."""
        path = self.developer_kubeconfig_path if as_developer else self.kubeconfig_path
        return kube_config.new_client_from_config(config_file=str(path))

    def metrics(self) -> RequestCounters:
        """The API server's ``apiserver_request_total`` counters right now (read as admin from /metrics)."""
        return parse_request_counters(self.kubectl("get", "--raw", "/metrics").stdout)


# ------------------------------------------------------------------------------------------------- local

_RUNNING: set[LocalControlPlane] = set()
_RUNNING_LOCK = threading.Lock()


@atexit.register
def _stop_all_at_exit() -> None:
    """Last-resort cleanup for control planes nobody stopped (a demo script that forgot ``with``)."""
    with _RUNNING_LOCK:
        leftovers = list(_RUNNING)
    for plane in leftovers:
        with contextlib.suppress(Exception):
            plane.stop()


def _exit_on_sigterm() -> None:
    """Turn SIGTERM (CI cancelling a job, ``timeout``) into SystemExit so ``with`` blocks and atexit clean up.

    Python's default is to die on the spot, which leaves the temp dir behind (the components themselves die
    anyway via pdeathsig). Only done from the main thread and only if nobody installed a handler already.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@dataclass(eq=False)
class LocalControlPlane(ControlPlane):
    """etcd + kube-apiserver + kube-controller-manager as local processes in one temporary directory."""

    bin_dir: Path
    tmp_dir: Path
    startup_timeout: float = 120.0
    etcd_prefix: str = field(default_factory=lambda: f"/regional-operator-{secrets.token_hex(6)}")
    admin_token: str | None = field(default_factory=lambda: secrets.token_urlsafe(24))
    developer_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    apiserver_port: int = field(default_factory=free_port)
    controller_manager_port: int = field(default_factory=free_port)
    components: dict[str, Component] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each phase of the last start/restart took (etcd, kube-apiserver, kube-controller-manager)."""

    STOP_ORDER: ClassVar[tuple[str, ...]] = ("kube-controller-manager", "kube-apiserver", "etcd")

    # --- construction --------------------------------------------------------------------------------------

    @classmethod
    def launch(cls, *, bin_dir: Path | None = None, startup_timeout: float = 120.0) -> LocalControlPlane:
        """Create the temp dir, start all three components, and return once the API is ready.

        Any failure, including KeyboardInterrupt, stops what was started and removes the temp dir first.
        """
        _exit_on_sigterm()
        resolved = bin_dir or find_bin_dir()
        missing = _missing_binaries(resolved)
        if missing:
            raise ControlPlaneError(f"{resolved} lacks {', '.join(missing)}. {SETUP_HINT}")
        plane = cls(bin_dir=resolved, tmp_dir=Path(tempfile.mkdtemp(prefix="regional-operator-cp-")),
                    startup_timeout=startup_timeout)
        with _RUNNING_LOCK:
            _RUNNING.add(plane)
        try:
            plane._boot()
        except BaseException:
            plane.stop()
            raise
        return plane

    @property
    def server(self) -> str:  # type: ignore[override]
        return f"https://{LOOPBACK}:{self.apiserver_port}"

    @property
    def kubeconfig_path(self) -> Path:  # type: ignore[override]
        return self.tmp_dir / "admin.kubeconfig"

    @property
    def developer_kubeconfig_path(self) -> Path:  # type: ignore[override]
        return self.tmp_dir / "developer.kubeconfig"

    @property
    def ca_path(self) -> Path:  # type: ignore[override]
        return self.tmp_dir / "ca.crt"

    @property
    def etcd_url(self) -> str:
        return f"http://{LOOPBACK}:{self.etcd_port}"

    @property
    def etcd_data_dir(self) -> Path:
        return self.tmp_dir / "etcd-data"

    def pids(self) -> dict[str, int]:
        """PIDs (== process-group ids) of the running components, by name."""
        return {name: c.pid for name, c in self.components.items() if c.pid is not None and c.running()}

    def _boot(self) -> None:
        self._write_credentials()
        self.components = {
            "etcd": Component("etcd", self._etcd_argv(), self.tmp_dir / "etcd.log"),
            "kube-apiserver": Component("kube-apiserver", self._apiserver_argv(), self.tmp_dir / "kube-apiserver.log"),
            "kube-controller-manager": Component(
                "kube-controller-manager", self._controller_manager_argv(),
                self.tmp_dir / "kube-controller-manager.log"),
        }
        self._start_storage_and_api()
        self._timed("kube-controller-manager", self._start_controller_manager)

    def _timed(self, phase: str, step: Any) -> None:
        began = time.monotonic()
        step()
        self.timings[phase] = round(time.monotonic() - began, 2)

    def _start_storage_and_api(self) -> None:
        self._timed("etcd", self._start_etcd)
        self._timed("kube-apiserver", self._start_apiserver)

    # --- credentials ---------------------------------------------------------------------------------------

    def _write_credentials(self) -> None:
        """Static tokens for two identities and a service-account signing key (what envtest generates)."""
        (self.tmp_dir / "apiserver-certs").mkdir(mode=0o700)
        # token,user,uid,"groups": admin is a cluster superuser; developer gets only system:authenticated.
        (self.tmp_dir / "tokens.csv").write_text(
            f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
            f"{self.developer_token},{DEVELOPER_USER},{DEVELOPER_USER}\n"
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.tmp_dir / "sa.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        (self.tmp_dir / "sa.pub").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    # --- etcd ----------------------------------------------------------------------------------------------

    def _etcd_argv(self) -> list[str]:
        peer = f"http://{LOOPBACK}:{self.etcd_peer_port}"
        return [
            str(self.bin_dir / "etcd"),
            "--name=default",
            f"--data-dir={self.etcd_data_dir}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            # Like envtest: a test store needs no durability and fsync dominates CRD-install time on slow disks.
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _start_etcd(self) -> None:
        etcd = self.components["etcd"]
        etcd.start()
        _wait_until(etcd, lambda: '"health":"true"' in _http_get(f"{self.etcd_url}/health")[1],
                    self.startup_timeout, "healthy")

    # --- kube-apiserver ------------------------------------------------------------------------------------

    def _apiserver_argv(self) -> list[str]:
        """envtest's default flags (controller-runtime pkg/internal/testing/controlplane) plus token auth."""
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--advertise-address={LOOPBACK}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.tmp_dir / 'apiserver-certs'}",
            f"--etcd-servers={self.etcd_url}",
            f"--etcd-prefix={self.etcd_prefix}",
            "--authorization-mode=RBAC",
            f"--token-auth-file={self.tmp_dir / 'tokens.csv'}",
            f"--service-account-issuer={self.server}/",
            f"--service-account-key-file={self.tmp_dir / 'sa.pub'}",
            f"--service-account-signing-key-file={self.tmp_dir / 'sa.key'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # No serviceaccount controller runs, so the admission plugin would reject pods without a default SA.
            "--disable-admission-plugins=ServiceAccount",
            # The endpoint reconciler would try to publish 127.0.0.1 for the kubernetes Service and log errors.
            "--endpoint-reconciler-type=none",
            # Without a bound, open watches (the controller manager's) keep a SIGTERMed apiserver alive for
            # 30 s+; 1 s lets restart_apiserver() take ~4 s instead of hitting the SIGKILL fallback.
            "--shutdown-watch-termination-grace-period=1s",
        ]

    def _start_apiserver(self) -> None:
        apiserver = self.components["kube-apiserver"]
        apiserver.start()
        _wait_until(apiserver, self._extract_ca, self.startup_timeout, "serving a self-signed certificate")
        context = ssl.create_default_context(cafile=str(self.ca_path))
        _wait_until(apiserver,
                    lambda: _http_get(f"{self.server}/readyz", context=context, token=self.admin_token)[0] == 200,
                    self.startup_timeout, "ready (/readyz)")

    def _extract_ca(self) -> bool:
        """Pull the CA out of the serving-cert bundle kube-apiserver self-generates in --cert-dir.

        The bundle is ``<serving cert><CA cert>``; clients trust the CA, and the files survive restarts so
        the CA stays the same for the lifetime of the temp dir.
        """
        bundle = self.tmp_dir / "apiserver-certs" / "apiserver.crt"
        if not bundle.exists():
            return False
        blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", bundle.read_bytes(),
                            re.DOTALL)
        if len(blocks) < 2:
            return False
        ca_pem = blocks[-1]
        self.ca_path.write_bytes(ca_pem)
        assert self.admin_token is not None
        write_kubeconfig(self.kubeconfig_path, server=self.server, ca_pem=ca_pem, user=ADMIN_USER,
                         token=self.admin_token)
        write_kubeconfig(self.developer_kubeconfig_path, server=self.server, ca_pem=ca_pem,
                         user=DEVELOPER_USER, token=self.developer_token)
        return True

    # --- kube-controller-manager ---------------------------------------------------------------------------

    def _controller_manager_argv(self) -> list[str]:
        kubeconfig = self.kubeconfig_path
        return [
            str(self.bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--controllers={','.join(CONTROLLERS)}",
            "--leader-elect=false",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={self.controller_manager_port}",
            f"--cert-dir={self.tmp_dir / 'controller-manager-certs'}",
            f"--service-account-private-key-file={self.tmp_dir / 'sa.key'}",
            f"--root-ca-file={self.ca_path}",
        ]

    def _start_controller_manager(self) -> None:
        manager = self.components["kube-controller-manager"]
        manager.start()
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its serving cert is self-signed and only /healthz is read
        url = f"https://{LOOPBACK}:{self.controller_manager_port}/healthz"
        _wait_until(manager, lambda: _http_get(url, context=insecure)[0] == 200, self.startup_timeout, "healthy")

    # --- lifecycle -----------------------------------------------------------------------------------------

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and etcd, start them again on the same ports and data dir, wait for /readyz.

        The controller manager keeps running and reconnects by itself, as it would in a real outage.
        """
        if not self.components:
            raise ControlPlaneError("control plane is not running")
        began = time.monotonic()
        self.components["kube-apiserver"].stop()
        self.components["etcd"].stop()
        self._start_storage_and_api()
        self.timings["restart"] = round(time.monotonic() - began, 2)

    def stop(self) -> None:
        """Stop the components (controller manager first, etcd last) and delete the temp dir. Idempotent."""
        errors = []
        for name in self.STOP_ORDER:
            component = self.components.get(name)
            if component is None:
                continue
            try:
                component.stop()
            except Exception as err:  # keep going: the other components and the temp dir must still go
                errors.append(f"{name}: {err}")
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        if errors:
            raise ControlPlaneError("teardown problems: " + "; ".join(errors))

    def __repr__(self) -> str:
        return f"LocalControlPlane(server={self.server!r}, tmp_dir={str(self.tmp_dir)!r})"


# ---------------------------------------------------------------------------------------------- external


@dataclass(eq=False)
class ExternalCluster(ControlPlane):
    """An existing cluster (kind, ...) named by a kubeconfig: same interface, nothing started or stopped.

    The developer identity is the admin credentials impersonating user ``developer`` (``as:`` in the
    kubeconfig), which the API server authorizes exactly like a real authenticated user without grants.
    """

    kubeconfig_path: Path
    bin_dir: Path
    server: str
    admin_token: str | None
    tmp_dir: Path

    @classmethod
    def attach(cls, kubeconfig: Path, *, bin_dir: Path | None = None) -> ExternalCluster:
        """Read the current context of ``kubeconfig``; kubectl/helm come from $REGIONAL_OPERATOR_BIN,
        else build.sh's cache, else $PATH (an external cluster does not need our etcd/kube-apiserver)."""
        if not kubeconfig.is_file():
            raise ControlPlaneError(f"${ENV_KUBECONFIG}={kubeconfig} is not a file")
        cluster, user = _current_cluster_and_user(yaml.safe_load(kubeconfig.read_text()))
        tmp_dir = Path(tempfile.mkdtemp(prefix="regional-operator-ext-"))
        ca_pem = _ca_pem(cluster, kubeconfig.parent)
        plane = cls(kubeconfig_path=kubeconfig, bin_dir=bin_dir or _client_bin_dir(), server=str(cluster["server"]),
                    admin_token=user.get("token"), tmp_dir=tmp_dir)
        (tmp_dir / "ca.crt").write_bytes(ca_pem)
        write_kubeconfig(plane.developer_kubeconfig_path, server=plane.server, ca_pem=ca_pem,
                         user=DEVELOPER_USER, impersonate=DEVELOPER_USER,
                         user_fields=_absolute_user_paths(user, kubeconfig.parent))
        return plane

    @property
    def developer_kubeconfig_path(self) -> Path:  # type: ignore[override]
        return self.tmp_dir / "developer.kubeconfig"

    @property
    def ca_path(self) -> Path:  # type: ignore[override]
        return self.tmp_dir / "ca.crt"

    def api_client(self, *, as_developer: bool = False) -> ApiClient:
        """The Python client ignores a kubeconfig's ``as:``, so impersonate with the header it stands for."""
        api = super().api_client()
        if as_developer:
            api.set_default_header("Impersonate-User", DEVELOPER_USER)
        return api

    def restart_apiserver(self) -> None:
        raise ControlPlaneError(
            "restart_apiserver() is unsupported on external clusters ($REGIONAL_OPERATOR_KUBECONFIG): "
            "the harness does not own their kube-apiserver/etcd")

    def stop(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


def _current_cluster_and_user(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
    current = config.get("current-context")
    if current not in contexts:
        raise ControlPlaneError(f"kubeconfig has no usable current-context ({current!r})")
    context = contexts[current]
    clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    return clusters[context["cluster"]], users.get(context.get("user", ""), {})


def _ca_pem(cluster: Mapping[str, Any], base: Path) -> bytes:
    if "certificate-authority-data" in cluster:
        return base64.b64decode(cluster["certificate-authority-data"])
    if "certificate-authority" in cluster:
        return (base / str(cluster["certificate-authority"])).read_bytes()
    raise ControlPlaneError("external kubeconfig has no certificate authority; refusing to skip TLS checks")


def _absolute_user_paths(user: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Copy the user's credentials, making file references absolute (the copy lives in another directory)."""
    copied = dict(user)
    for key in ("client-certificate", "client-key", "tokenFile"):
        if key in copied:
            copied[key] = str(base / copied[key])
    return copied


def _client_bin_dir() -> Path:
    env = os.environ.get(ENV_BIN)
    if env:
        return Path(env)
    with contextlib.suppress(ControlPlaneError, OSError):
        return _run_build_script()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ControlPlaneError(f"no kubectl for the external cluster. {SETUP_HINT}")
    return Path(kubectl).parent


def wait_for(predicate: Any, *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition",
             context: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate()`` until it returns something truthy (returned); AssertionError after ``timeout``, naming
    `what`, the last value seen and ``context()`` (the processes' logs), so a failed wait says what it saw."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last={result!r}"
                                 + (f"\n{context()}" if context else ""))
        time.sleep(interval)


__all__: Sequence[str] = (
    "ControlPlane", "ControlPlaneError", "ExternalCluster", "KubectlError", "LocalControlPlane",
    "RequestCounters", "Sample", "expected_kubernetes_version", "find_bin_dir", "free_port",
    "parse_request_counters", "pid_alive", "process_group_members", "wait_for",
)

"""The operator and the provider simulator as real subprocesses against the test control plane: the same
`kopf run` command the container image runs, so SIGKILL/restart tests exercise the real thing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A child process with its output in a temp file (shown when a test fails)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self._log: IO[str] = tempfile.NamedTemporaryFile("w+", prefix=f"{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Process:
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     text=True, cwd=REPO, start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers run (what a node crash or OOM kill does)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self, tail: int = 60) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-tail:])

    def cleanup(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def _env(kubeconfig: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.setdefault("REGIONAL_OPERATOR_METRICS_PORT", "0")
    env.update(extra or {})
    return env


def operator(kubeconfig: Path, namespace: str | None, extra_env: dict[str, str] | None = None, *,
             python: Path | None = None) -> Process:
    """`kopf run` of our handlers (the image's entrypoint), namespaced for test isolation.

    `python`: another interpreter (e.g. the image's runtime-lock venv); the sources are then found by PYTHONPATH.
    """
    liveness = free_port()
    scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    extra = dict(extra_env or {})
    if python is not None:
        extra["PYTHONPATH"] = os.pathsep.join([str(REPO / "operator"), str(REPO / "lambda"), str(REPO)])
    argv = [str(python or sys.executable), "-m", "kopf", "run", "--standalone", "-m", "regional_operator.handlers",
            *scope, f"--liveness=http://127.0.0.1:{liveness}/healthz"]
    proc = Process("operator", argv, _env(kubeconfig, extra))
    proc.liveness_url = f"http://127.0.0.1:{liveness}/healthz"  # type: ignore[attr-defined]
    return proc


def simulator(kubeconfig: Path, namespace: str | None, ready_delay: float = 0.2, *,
              coalesce_writes: bool = False, estate: Path | None = None, cloud_out: Path | None = None) -> Process:
    scope = ["--namespace", namespace] if namespace else []
    argv = [sys.executable, "-m", "devtools.simulator", "--kubeconfig", str(kubeconfig), *scope,
            "--ready-delay", str(ready_delay), *(["--coalesce-writes"] if coalesce_writes else []),
            *(["--estate", str(estate)] if estate else []), *(["--cloud-out", str(cloud_out)] if cloud_out else [])]
    return Process("simulator", argv, _env(kubeconfig))


def wait_live(url: str, timeout: float = 60, *, exited: Callable[[], str | None] | None = None) -> None:
    """Until `url` answers 200 (a liveness or health endpoint). `exited`, when given, says why the process behind
    it is gone (or None while it runs), so a crash fails at once with that reason instead of after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exited is not None and (reason := exited()) is not None:
            raise RuntimeError(reason)
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"endpoint {url} not up after {timeout}s")

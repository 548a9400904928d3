"""The image's dependency set as a local venv: exactly requirements/runtime.lock, nothing from the test extras.

Used by the image test (which replays the Dockerfile's build stage) and by the operator benchmark (so memory is
measured for the operator as shipped: with the test extras installed, kopf also imports the `kubernetes` client,
which is ~45 MB of the process that the image does not have). Cached under ~/.cache/regional-operator/image-venv,
keyed by the lock file's hash and the Python version.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "runtime.lock"
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "regional-operator" / "image-venv"


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def lock_pins() -> dict[str, str]:
    pins = {}
    for raw in LOCK.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[normalize(name)] = version
    return pins


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_venv() -> Path:
    """A venv with exactly the runtime lock installed, cached by the lock's hash and the Python version.

    Built in place (venvs are not relocatable) and marked complete last, so an interrupted build is redone.
    """
    key = hashlib.sha256(LOCK.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = CACHE_ROOT / key
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    # From the base interpreter, not this test venv: the image's venv is made from a bare python.
    base = Path(getattr(sys, "_base_executable", sys.executable))
    run([str(base), "-m", "venv", "--without-pip", str(venv)])
    run([*uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--no-deps", "-r", str(LOCK)])
    (venv / ".complete").write_text(LOCK.read_text())
    return venv

"""What the container image holds and runs, proved without Docker.

The Dockerfile's build stage is replayed: a clean venv gets exactly requirements/runtime.lock (--no-deps, as the
Dockerfile does) and the project built from the same files the Dockerfile COPYs (a non-editable install from a
copy of them, so nothing is imported from the repository). Then the Dockerfile's ENTRYPOINT, parsed from the
Dockerfile so the two cannot drift, runs with `--namespace <ns>` in place of CMD against the test API server,
on a read-only root filesystem with a writable /tmp only (a private mount namespace: `unshare -m`, the root
remounted read-only, a tmpfs on /tmp: what readOnlyRootFilesystem and the chart's emptyDir give the pod),
PYTHONDONTWRITEBYTECODE=1 and no PYTHONPATH. With the provider simulator running, the two-region example must
reach Ready, and the Lambda package the image ships must be byte-identical to the repository's.

The dependency venv takes a while to build, so it is cached under ~/.cache/regional-operator/image-venv, keyed
by the lock file's hash and the Python version; the project itself is reinstalled into it on every run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from payments.build import build_package

from devtools import processes
from devtools.controlplane import ControlPlane
from devtools.image_venv import CACHE_ROOT, dependency_venv, lock_pins, normalize, run, uv
from tests.e2e.conftest import Env, load_example

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
LIVENESS = "--liveness=http://0.0.0.0:8080/healthz"
# Root filesystem read-only, /tmp a fresh tmpfs (the chart's emptyDir), then the command in the given directory.
READ_ONLY_ROOT = ('mount --make-rprivate / && mount -o remount,bind,ro / '
                  '&& mount -t tmpfs -o size=64m,mode=1777 tmpfs /tmp && cd "$0" && exec "$@"')


# ------------------------------------------------------------------------------------------ the Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def exec_form(instruction: str) -> list[str]:
    """The JSON (exec) form of ENTRYPOINT/CMD in the final stage."""
    found = [args for word, args in stages()[-1] if word == instruction]
    assert len(found) == 1, f"one {instruction} expected in the final stage"
    value = json.loads(found[0])
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), "exec form required"
    return value


def build_stage_copies() -> list[str]:
    """Source paths the build stage COPYs from the context (what the installed project is made of)."""
    sources = []
    for word, args in stages()[0]:
        if word == "COPY" and "--from" not in args:
            sources.extend(args.split()[:-1])
    return sources


def final_stage(word: str) -> list[str]:
    return [args for w, args in stages()[-1] if w == word]


# ------------------------------------------------------------------------------------------ the venv


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cached dependency venv plus the project, installed non-editable from a copy of the COPYed files."""
    venv = dependency_venv()
    context = tmp_path_factory.mktemp("build-context")
    for source in build_stage_copies():
        if source == "requirements/runtime.lock":
            continue
        src = REPO / source.rstrip("/")
        if src.is_dir():
            shutil.copytree(src, context / source.rstrip("/"),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(src, context / source)
    run([*uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--no-deps", "--reinstall",
         str(context)])
    for cache in (venv / "lib").glob("python3*/site-packages/*/**/__pycache__"):  # left by earlier runs
        shutil.rmtree(cache)
    return venv


# ------------------------------------------------------------------------------------------ tests (offline-ish)


def test_dockerfile_shape() -> None:
    all_stages = stages()
    assert len(all_stages) == 2, "multi-stage: build + runtime"
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for w, a in dockerfile_instructions() if w == "ARG" and "=" in a}
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert all(s[0] == ("FROM", "${PYTHON_IMAGE} AS build") or s[0][1] == "${PYTHON_IMAGE}" for s in all_stages)
    assert final_stage("USER") == ["10001:10001"]
    assert "PYTHONDONTWRITEBYTECODE=1" in " ".join(final_stage("ENV"))
    assert final_stage("EXPOSE") == ["8080 9090"]
    labels = " ".join(final_stage("LABEL"))
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert exec_form("ENTRYPOINT") == ["kopf", "run", "--standalone", "-m", "regional_operator.handlers", LIVENESS]
    assert exec_form("CMD") == ["--all-namespaces"]
    assert set(build_stage_copies()) == {"requirements/runtime.lock", "pyproject.toml", "README.md", "operator/",
                                         "lambda/"}


def test_dockerignore_admits_exactly_what_the_build_copies() -> None:
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*", "allow-list: everything excluded first"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert allowed == {s.rstrip("/") for s in build_stage_copies()}


def test_image_venv_holds_exactly_the_lock(image_venv: Path) -> None:
    listing = run([*uv(), "pip", "list", "--format=json", "--python", str(image_venv / "bin" / "python")]).stdout
    installed = {normalize(p["name"]): p["version"] for p in json.loads(listing)}
    for tool in ("pip", "setuptools", "wheel"):  # the image's venv has the base image's pip; not a dependency
        installed.pop(tool, None)
    project = installed.pop("regional-operator")
    assert project == "0.1.0"
    assert installed == lock_pins(), "the image must hold the runtime lock and nothing else (no dev packages)"
    run([*uv(), "pip", "check", "--python", str(image_venv / "bin" / "python")])
    # Non-editable: the packages live in site-packages, package data included.
    probe = run([str(image_venv / "bin" / "python"), "-c",
                 "import regional_operator, payments, importlib.resources as r; print(regional_operator.__file__);"
                 "print(payments.__file__); print(r.files('regional_operator').joinpath('data/region-defaults.yaml')"
                 ".is_file())"], cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    op_file, pay_file, data = probe.stdout.split()
    assert str(image_venv) in op_file and str(image_venv) in pay_file and data == "True"


# ------------------------------------------------------------------------------------------ the running image


class ImageProcess(processes.Process):
    """The ENTRYPOINT in a private mount namespace with a read-only root and a tmpfs /tmp, started in `cwd`."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        super().__init__("image", ["unshare", "--mount", "--", "sh", "-c", READ_ONLY_ROOT, str(cwd), *argv], env)

    def start(self) -> ImageProcess:
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     text=True, cwd="/", start_new_session=True)
        return self


@pytest.fixture
def run_dir(image_venv: Path) -> Iterator[Path]:
    """Inputs for the process outside /tmp (which it sees as an empty tmpfs), removed afterwards."""
    path = CACHE_ROOT / f"run-{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _image_env(venv: Path, kubeconfig: Path, home: Path, metrics_port: int) -> dict[str, str]:
    """The container's environment: the Dockerfile's ENV (parsed) plus what the chart or `docker run` adds."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(kubeconfig),
           "REGIONAL_OPERATOR_METRICS_PORT": str(metrics_port), "LANG": "C.UTF-8"}
    for args in final_stage("ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", args):
            env[key] = value.replace("/opt/venv", str(venv)).replace("$PATH", env["PATH"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PATH"].startswith(f"{venv}/bin:")
    return env


def test_read_only_root_is_really_read_only(image_venv: Path, run_dir: Path) -> None:
    """The wrapper the next test relies on: nothing outside /tmp is writable, /tmp is."""
    site = next((image_venv / "lib").glob("python3*/site-packages"))
    script = (f"import pathlib\nfor p in [{str(site)!r}, {str(run_dir)!r}, '/tmp']:\n"
              "    try:\n        (pathlib.Path(p) / 'probe').write_text('x'); print(p, 'writable')\n"
              "    except OSError as e:\n        print(p, 'errno', e.errno)\n")
    proc = subprocess.run(["unshare", "--mount", "--", "sh", "-c", READ_ONLY_ROOT, "/",
                           str(image_venv / "bin" / "python"), "-c", script],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == [f"{site} errno 30", f"{run_dir} errno 30", "/tmp writable"]
    assert not (run_dir / "probe").exists() and not (site / "probe").exists()


def test_entrypoint_reconciles_the_two_region_example(control_plane: ControlPlane, crossplane_crds: list[str],
                                                      project_crds: list[str], namespace: str, image_venv: Path,
                                                      run_dir: Path) -> None:
    cp = control_plane
    kubeconfig = run_dir / "kubeconfig"
    shutil.copy2(cp.kubeconfig_path, kubeconfig)
    health, metrics_port = processes.free_port(), processes.free_port()
    entrypoint = exec_form("ENTRYPOINT")
    # Only the liveness port changes (8080 may be taken on a test machine); the rest is the image's command.
    argv = [f"--liveness=http://127.0.0.1:{health}/healthz" if a == LIVENESS else a for a in entrypoint]
    argv += ["--namespace", namespace]  # replaces CMD ["--all-namespaces"], as the chart's args do
    workdir = Path(final_stage("WORKDIR")[-1].replace("/opt/venv", str(image_venv)))
    env = Env(cp, namespace)
    env.operator = ImageProcess(argv, _image_env(image_venv, kubeconfig, run_dir, metrics_port), workdir).start()
    try:
        processes.wait_live(f"http://127.0.0.1:{health}/healthz", timeout=90)
        env.start_simulator()
        cr = load_example("two-region.yaml")
        name = cr["metadata"]["name"]
        env.apply(cr)
        ready = env.wait_condition(name, "Ready", "True", timeout=240)
        assert ready["reason"] == "AllResourcesReady"
        logs = env.operator.logs(tail=100000)
        assert "payments Lambda package not installed" not in logs
        assert "Read-only file system" not in logs and "Traceback" not in logs, logs[-3000:]
        # The Lambda zip the image builds is byte-identical to the repository's (same sha256 in the S3 key).
        _, digest = build_package()
        objects = [m for m in env.mrs(name) if m["kind"] == "Object"]
        assert objects, "no S3 Object MR: the payments package is missing from the image"
        for obj in objects:
            assert obj["spec"]["forProvider"]["key"] == f"payments-processor/{digest}.zip"
            body = base64.b64decode(obj["spec"]["forProvider"]["contentBase64"])
            assert hashlib.sha256(body).hexdigest() == digest
        # Metrics are served by the image's prometheus-client on the configured port.
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            page = resp.read().decode()
        assert "regional_operator_reconciles_total" in page
        # Nothing was written next to the code: no bytecode caches appeared in the venv.
        assert not list((image_venv / "lib").glob("python3*/site-packages/regional_operator/**/__pycache__"))
    finally:
        env.stop()

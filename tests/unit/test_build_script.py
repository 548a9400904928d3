"""devtools/controlplane/build.sh on a cold cache, with a stand-in `go` (no network, no compiler): stdout is the bin
directory only, and stderr says what is about to happen and how long it takes before Go's first `go: downloading`
line; rewording a message keeps the cache key (no rebuild), changing a build command does not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "devtools" / "controlplane" / "build.sh"
STUB_GO = """#!/usr/bin/env bash
case "$1" in
  env) echo "$STUB_MODCACHE" ;;
  list) echo v0.0.1 ;;
  build)
    echo "go: downloading example.com/module v1.0.0" >&2
    out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
    case "$out" in
      */) for b in kube-apiserver kube-controller-manager kubectl; do : > "$out$b"; chmod +x "$out$b"; done ;;
      *) : > "$out"; chmod +x "$out" ;;
    esac ;;
esac
"""


@pytest.fixture
def stub_env(tmp_path: Path) -> dict[str, str]:
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "go").write_text(STUB_GO)
    (stub / "go").chmod(0o755)
    return {**os.environ, "PATH": f"{stub}:{os.environ['PATH']}", "REGIONAL_OPERATOR_CACHE": str(tmp_path / "cache"),
            "STUB_MODCACHE": str(tmp_path / "modcache")}


def run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=True, timeout=60)


def test_a_cold_build_says_what_it_does_and_how_long_before_go_downloads(stub_env: dict[str, str]) -> None:
    cold = run(SCRIPT, stub_env)
    [bin_dir] = cold.stdout.splitlines()
    assert Path(bin_dir).is_dir() and Path(bin_dir).name == "bin"
    before = cold.stderr.split("go: downloading example.com", 1)[0]
    assert "first run on this machine" in before and "minutes" in before and "260 modules" in before
    assert "[1/4]" in before and "[4/4]" in cold.stderr and "built in" in cold.stderr
    warm = run(SCRIPT, stub_env)
    assert (warm.stdout.strip(), warm.stderr) == (bin_dir, "")


def test_with_the_sources_in_the_module_cache_it_says_no_downloads(stub_env: dict[str, str]) -> None:
    required = next(line.split()[-1] for line in (SCRIPT.parent / "tools" / "k8s" / "go.mod").read_text().splitlines()
                    if "k8s.io/kubernetes " in line)
    (Path(stub_env["STUB_MODCACHE"]) / "k8s.io" / f"kubernetes@{required}").mkdir(parents=True)
    assert "no downloads, compiling only" in run(SCRIPT, stub_env).stderr


def test_rewording_a_message_keeps_the_cache_key_and_a_build_change_does_not(tmp_path: Path,
                                                                           stub_env: dict[str, str]) -> None:
    original = run(SCRIPT, stub_env).stdout.strip()
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "tools").symlink_to(SCRIPT.parent / "tools")
    text = SCRIPT.read_text()
    (copy / "build.sh").write_text(text.replace("then compiles.", "then compiles (reworded)."))
    assert run(copy / "build.sh", stub_env).stdout.strip() == original
    (copy / "build.sh").write_text(text.replace('-ldflags "-s -w" -o "$tmp/etcd"', '-ldflags "-s" -o "$tmp/etcd"'))
    assert run(copy / "build.sh", stub_env).stdout.strip() != original


def test_the_key_hashes_the_modules_it_builds_not_other_tools_dirs(tmp_path: Path, stub_env: dict[str, str]) -> None:
    # tools/provider (build_provider.sh, its own cache) and any later tools dir another script builds must not
    # rebuild the control plane; a change to a module this script builds must.
    copy = tmp_path / "copy"
    tools = copy / "tools"
    for name in ("etcd", "helm", "k8s", "crossplane", "provider"):
        (tools / name).mkdir(parents=True)
        for f in ("go.mod", "go.sum"):
            (tools / name / f).write_text((SCRIPT.parent / "tools" / name / f).read_text())
    (copy / "build.sh").write_text(SCRIPT.read_text())
    original = run(copy / "build.sh", stub_env).stdout.strip()
    assert original == run(SCRIPT, stub_env).stdout.strip()
    with (tools / "provider" / "go.mod").open("a") as fh:
        fh.write("// bumped\n")
    (tools / "other").mkdir()
    (tools / "other" / "go.mod").write_text("module example.com/other\n")
    (tools / "other" / "go.sum").write_text("")
    assert run(copy / "build.sh", stub_env).stdout.strip() == original
    for built in ("helm", "crossplane"):  # the crossplane CLI (crank) is built here too
        with (tools / built / "go.sum").open("a") as fh:
            fh.write("example.com/x v1.0.0 h1:AAAA=\n")
        changed = run(copy / "build.sh", stub_env).stdout.strip()
        assert changed != original
        original = changed

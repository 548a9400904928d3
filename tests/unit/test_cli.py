"""`regional-operator render`: the offline preview. In-process through cli.main (capsys) and once as the installed
console script in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_operator import cli
from regional_operator.artifact import load_artifact
from regional_operator.defaults import load_defaults
from regional_operator.render import render

from tests.unit.render.conftest import plausible_status
from tests.unit.test_bad_input import CASES, InvalidCase, field_matches

REPO = Path(__file__).resolve().parents[2]
TWO_REGION = str(REPO / "examples" / "two-region.yaml")
THREE_REGION = str(REPO / "examples" / "three-region.yaml")
REGION_LABEL = "platform.regional.io/region"
SUMMARY_LINE = re.compile(r"^(?P<region>[a-z]{2}-[a-z-]+-\d): (?P<count>\d+) MRs \((?P<kinds>.+)\)$")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["render", *args])
    out, err = capsys.readouterr()
    return code, out, err


def documents(text: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    assert all(isinstance(d, dict) for d in docs)
    return docs


def summary(stderr: str) -> tuple[dict[str, int], list[str]]:
    """Per-region MR counts and pending lines from the stderr summary."""
    counts = {m["region"]: int(m["count"]) for m in map(SUMMARY_LINE.match, stderr.splitlines()) if m}
    pending = [line.removeprefix("pending: ") for line in stderr.splitlines() if line.startswith("pending: ")]
    return counts, pending


def test_render_prints_yaml_of_mrs_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, TWO_REGION)
    assert code == 0
    mrs = documents(out)
    assert mrs and all(m["apiVersion"].endswith(".aws.m.upbound.io/v1beta1") for m in mrs)
    assert all(m["metadata"]["namespace"] == "payments" and m["spec"]["forProvider"] is not None for m in mrs)
    # exactly what render() returns for the file (the CLI and the operator share one renderer)
    cr = yaml.safe_load(Path(TWO_REGION).read_text(encoding="utf-8"))
    expected = render(cr, load_defaults(), artifact=load_artifact())
    assert mrs == list(expected.resources)
    # the real Lambda package is given: function and code object wait only for the region key's ARN (their KMS
    # fields take the ARN, which exists once AWS created the key), not for a package
    waiting = {p.kind for p in expected.pending if p.waits_for.startswith("Key/")}
    assert "Function" in waiting
    assert not any("no artifact" in p.waits_for for p in expected.pending)
    # stderr: which CR, per-region counts that add up, and what waits for the provider
    assert err.splitlines()[0] == "# payments/payments"
    counts, pending = summary(err)
    assert set(counts) == {"us-east-1", "us-east-2"}
    assert sum(counts.values()) == len(mrs)
    assert pending == [str(p) for p in expected.pending] and pending


def test_region_filter(capsys: pytest.CaptureFixture[str]) -> None:
    _, everything, _ = run(capsys, TWO_REGION)
    code, out, err = run(capsys, TWO_REGION, "--region", "us-east-2")
    assert code == 0
    mrs = documents(out)
    assert mrs and {m["metadata"]["labels"][REGION_LABEL] for m in mrs} == {"us-east-2"}
    assert mrs == [m for m in documents(everything) if m["metadata"]["labels"][REGION_LABEL] == "us-east-2"]
    counts, _ = summary(err)
    assert counts["us-east-2"] == len(mrs)  # the summary still describes the whole render


def test_json_output_is_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    _, as_yaml, _ = run(capsys, THREE_REGION)
    code, out, _ = run(capsys, THREE_REGION, "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["apiVersion"], doc["kind"]) == ("v1", "List")
    assert doc["items"] == documents(as_yaml)


def test_without_the_lambda_package(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, TWO_REGION, "--no-lambda-package")
    assert code == 0
    assert not {"Function", "Object", "EventSourceMapping"} & {m["kind"] for m in documents(out)}
    _, pending = summary(err)
    assert any(p.startswith("Function/") and "no artifact given" in p for p in pending)


def as_listed(mrs: list[dict[str, Any]]) -> dict[str, Any]:
    """What `kubectl get <kinds> -o yaml` returns for these MRs once the provider reported on them: a List of the
    objects with status (atProvider, Ready and Synced at the current generation)."""
    items = []
    for mr in mrs:
        conditions = [{"type": t, "status": "True", "reason": r, "observedGeneration": 1}
                      for t, r in (("Ready", "Available"), ("Synced", "ReconcileSuccess"))]
        items.append({**mr, "metadata": {**mr["metadata"], "generation": 1, "uid": f"uid-{len(items)}"},
                      "status": {"atProvider": plausible_status(mr), "conditions": conditions}})
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def test_observed_file_makes_pending_dependents_appear(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, TWO_REGION)
    assert code == 0
    mrs, (_, pending) = documents(out), summary(err)
    observed = tmp_path / "observed.yaml"
    rounds = 0
    while pending:
        rounds += 1
        assert rounds <= 4, f"still pending after {rounds} rounds: {pending}"
        observed.write_text(yaml.safe_dump(as_listed(mrs), sort_keys=False), encoding="utf-8")
        code, out, err = run(capsys, TWO_REGION, "--observed", str(observed))
        assert code == 0
        more, (_, now_pending) = documents(out), summary(err)
        assert len(more) > len(mrs) and len(now_pending) < len(pending)
        # what was rendered before is still rendered (dependents are added, nothing is lost)
        assert {(m["kind"], m["metadata"]["name"]) for m in mrs} <= {(m["kind"], m["metadata"]["name"]) for m in more}
        mrs, pending = more, now_pending
    kinds = {m["kind"] for m in mrs}
    assert {"VPCPeeringConnectionAccepter", "Instance", "BucketReplicationConfiguration", "WebACLAssociation"} <= kinds
    assert sum(m["kind"] == "Instance" for m in mrs) == 2  # the primary and its cross-region replica
    # a JSON file works the same (kubectl get -o json)
    as_json = tmp_path / "observed.json"
    as_json.write_text(json.dumps(as_listed(mrs)), encoding="utf-8")
    code, out_json, err_json = run(capsys, TWO_REGION, "--observed", str(as_json))
    assert code == 0 and documents(out_json) == mrs and summary(err_json)[1] == []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_invalid_file_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str], case: InvalidCase) -> None:
    code, out, err = run(capsys, str(case.path))
    assert code == cli.EXIT_INVALID == 2
    assert out == ""
    match = re.fullmatch(r"error: invalid RegionalDeployment: (?P<field>\S+): (?P<rule>.+)\n", err)
    assert match, err
    assert field_matches(match["field"], case.field), f"{match['field']} is not {case.field}"


def test_unreadable_inputs_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, str(tmp_path / "missing.yaml"))
    assert (code, out) == (2, "") and err.startswith("error: ")
    other = tmp_path / "configmap.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", encoding="utf-8")
    code, out, err = run(capsys, str(other))
    assert (code, out) == (2, "") and "no RegionalDeployment found" in err


def test_console_script_in_a_subprocess(capsys: pytest.CaptureFixture[str]) -> None:
    """The installed entry point, as a user runs it; byte-identical to the in-process run."""
    script = REPO / ".venv" / "bin" / "regional-operator"
    proc = subprocess.run([str(script), "render", "examples/two-region.yaml"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    _, in_process, in_process_err = run(capsys, TWO_REGION)
    assert proc.stdout == in_process
    assert proc.stderr == in_process_err
    counts, pending = summary(proc.stderr)
    assert sum(counts.values()) == len(documents(proc.stdout)) and pending

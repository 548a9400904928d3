"""Every renderer-layer file of the bad-input corpus passes admission (CEL cannot see it) and is reported
Stalled by the operator with the field named; nothing is created. (Admission-layer files are refused by the
API server itself: tests/cluster/test_crd_admission.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Env

pytestmark = pytest.mark.cluster
CORPUS = Path(__file__).resolve().parents[1] / "data" / "invalid"


def _renderer_layer() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        header = dict(line[2:].split(": ", 1) for line in path.read_text().splitlines()
                      if line.startswith("# ") and ": " in line and line[2:].split(":")[0] in ("expect", "layer"))
        if header.get("layer", "").strip() == "renderer":
            out.append((path, header["expect"].split("|")[0].strip()))
    return out


def test_renderer_layer_corpus_is_stalled_with_the_field_named_and_creates_nothing(env: Env) -> None:
    cases = _renderer_layer()
    assert len(cases) >= 5
    env.start_operator()
    for i, (path, _field) in enumerate(cases):
        cr = next(d for d in yaml.safe_load_all(path.read_text()) if d)
        cr["metadata"]["name"] = f"bad-{i}"
        env.apply(cr)
    for i, (path, field) in enumerate(cases):
        stalled = env.wait_condition(f"bad-{i}", "Stalled", "True", timeout=60)
        assert stalled["message"].startswith(field), (path.name, stalled["message"])
        assert env.condition(f"bad-{i}", "Ready")["status"] == "False"
    assert env.mrs() == [], "an invalid RegionalDeployment created managed resources"

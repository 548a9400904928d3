"""Malformed RegionalDeployments (tests/data/invalid) are refused offline, naming the field, and render nothing.

Each file is a complete object whose first lines say what should happen:

    # expect: <field path> | <words>
    # layer: admission | renderer
    # why: <what is wrong, for the reader>

`layer` names the first line of defence: `admission` files are refused by the API server (schema or CEL; checked
for real in tests/cluster/test_crd_admission.py, where <words> must appear in kubectl's error), `renderer` files pass
admission and are refused by the renderer (CIDR overlap across regions, values missing from both the CR and the
region defaults, cpu/memory combined across layers), where <words> must appear in the SpecValidationError's rule.
Either way the renderer refuses every one of them (the CLI renders files no API server has seen), with a field
that starts with <field path>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from regional_operator.defaults import load_defaults
from regional_operator.errors import SpecValidationError
from regional_operator.render import render
from regional_operator.spec import parse_spec

INVALID_DIR = Path(__file__).resolve().parents[1] / "data" / "invalid"
LAYERS = ("admission", "renderer")
MIN_CASES = 40
_HEADER = re.compile(r"# expect: (?P<field>\S+) \| (?P<words>.+)\n# layer: (?P<layer>\w+)\n# why: (?P<why>.+)\n")


@dataclass(frozen=True)
class InvalidCase:
    path: Path
    field: str
    words: str
    layer: str
    why: str

    @property
    def id(self) -> str:
        return self.path.stem

    def load(self) -> dict[str, Any]:
        return yaml.safe_load(self.path.read_text(encoding="utf-8"))


def load_case(path: Path) -> InvalidCase:
    match = _HEADER.match(path.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{path.name}: the first lines must be '# expect: <field> | <words>', '# layer: ...', "
                         "'# why: ...'")
    return InvalidCase(path, match["field"], match["words"].strip(), match["layer"], match["why"].strip())


def field_matches(reported: str, expected: str) -> bool:
    """`reported` is `expected` or a field inside it (spec.regions[1].name is inside spec.regions[1])."""
    return reported == expected or reported.startswith((expected + ".", expected + "["))


CASES = [load_case(p) for p in sorted(INVALID_DIR.glob("*.yaml"))]


def cases(layer: str | None = None) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in CASES if layer is None or c.layer == layer]


def test_the_corpus_is_large_and_covers_both_layers() -> None:
    assert len(CASES) >= MIN_CASES
    assert {c.layer for c in CASES} == set(LAYERS)
    by_layer = {layer: sum(c.layer == layer for c in CASES) for layer in LAYERS}
    assert by_layer["renderer"] >= 5, by_layer


@pytest.mark.parametrize("case", cases())
def test_header_and_object_are_well_formed(case: InvalidCase) -> None:
    assert case.layer in LAYERS
    assert case.field == "spec" or case.field.startswith("spec.")
    obj = case.load()
    assert (obj["apiVersion"], obj["kind"]) == ("platform.regional.io/v1alpha1", "RegionalDeployment")
    # The object is named after its file, so an API server error points back to it.
    assert obj["metadata"]["name"] == case.id and len(case.id) <= 40


@pytest.mark.parametrize("case", cases())
def test_renderer_refuses_naming_the_field(case: InvalidCase) -> None:
    with pytest.raises(SpecValidationError) as refused:
        render(case.load(), load_defaults())  # raises before returning anything: zero MRs
    err = refused.value
    assert field_matches(err.field, case.field), f"reported {err.field!r} ({err.rule}), expected {case.field!r}"
    assert str(err) == f"{err.field}: {err.rule}"
    if case.layer == "renderer":
        assert case.words.lower() in err.rule.lower(), f"{err.rule!r} does not say {case.words!r}"


@pytest.mark.parametrize("case", cases("renderer"))
def test_renderer_layer_cases_pass_the_checks_the_crd_also_makes(case: InvalidCase) -> None:
    """parse_spec mirrors the CRD's schema and CEL; a renderer-layer case must get past it (else it is mislabelled
    and would have been refused at admission)."""
    parse_spec(case.load()["spec"])

"""The rooms keep to their walls: the render wing is pure (no API client, no kopf, nothing of the operator), and
the watch side depends on nothing in reconcile/ (the reconcile wing reads the index, never the other way round)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "regional_operator"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of what a module of regional_operator imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.add(name)
            out |= {f"{name}.{alias.name}" for alias in node.names}
    return out


def imports_of(room: str) -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE)): imported_modules(p) for p in sorted((PACKAGE / room).glob("*.py"))}


def test_the_render_wing_imports_no_api_client_and_nothing_of_the_operator() -> None:
    forbidden = ("regional_operator.reconcile", "regional_operator.watch", "regional_operator.kube",
                 "regional_operator.handlers", "kopf", "aiohttp")
    found = {f: sorted(m for m in mods if m.startswith(forbidden)) for f, mods in imports_of("render").items()}
    assert {f: m for f, m in found.items() if m} == {}
    assert len(found) >= 10


def test_the_watch_side_depends_on_nothing_in_reconcile() -> None:
    found = {f: sorted(m for m in mods if m.startswith("regional_operator.reconcile"))
             for f, mods in imports_of("watch").items()}
    assert {f: m for f, m in found.items() if m} == {}
    assert {"watch/mrwatch.py", "watch/record.py", "watch/signals.py"} <= set(found)


def test_the_import_check_sees_relative_imports() -> None:
    mods = imported_modules(PACKAGE / "reconcile" / "status.py")
    assert "regional_operator.readiness" in mods and "regional_operator.render" in mods


def top_level_imports(path: Path) -> set[str]:
    """The top-level packages a file imports absolutely (relative imports stay inside its own package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return {n.split(".")[0] for n in names}


def test_nothing_shipped_imports_the_development_tools_or_the_tests() -> None:
    """The image ships operator/ and lambda/ only: an import of devtools or tests would fail in production."""
    shipped = [*PACKAGE.rglob("*.py"), *(PACKAGE.parents[1] / "lambda" / "payments").rglob("*.py")]
    found = {str(p): sorted(m for m in top_level_imports(p) if m in ("devtools", "tests")) for p in shipped}
    assert {f: m for f, m in found.items() if m} == {}
    assert len(found) >= 40


def test_demo_and_benchmarks_reach_the_dev_tools_not_the_tests() -> None:
    """hack/ and bench/ import the control plane, simulator and stand-ins from devtools, never from tests/."""
    repo = PACKAGE.parents[1]
    offenders: dict[str, str] = {}
    for path in [*(repo / "hack").glob("*.py"), *(repo / "bench").glob("*.py")]:
        if "tests" in top_level_imports(path):
            offenders[path.name] = "imports tests"
    assert offenders == {}
    assert "from devtools.controlplane import" in (repo / "hack" / "demo.py").read_text(encoding="utf-8")

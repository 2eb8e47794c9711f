"""The library's layering, checked from its source: a module imports only from its own
layer or below (CONTRIBUTING.md, "Library layers"), never inside a function body unless
it breaks a real cycle, and nothing outside ``course_lib/ops`` reaches into
``ops._backend``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "course_lib"

# bottom up; a module may import from its own layer and the layers below it
LAYERS = [
    ("foundation", {"validate", "device", "shapes", "frontend", "progress"}),
    ("ops", {"ops", "filters"}),
    ("layers", {"layers"}),
    ("models, data, metrics", {"models", "data", "metrics", "detection"}),
    ("training, plots", {"batching", "train", "callbacks", "checkpoints", "recipes", "viz"}),
    ("experiments, widgets, checks", {"experiments", "widgets", "checks", "selftest"}),
]
RANK = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}

# imports inside a function body, each with the reason it cannot sit at the top
SELFTEST = "the environment self-test must report a missing or broken package as a failed check instead of failing to import"
ALLOWED_LOCAL_IMPORTS: dict[str, str] = {
    "selftest.py:_check_package": SELFTEST,
    "selftest.py:_check_ipywidgets": SELFTEST,
    "selftest.py:_check_conv": SELFTEST,
    "selftest.py:_check_device": SELFTEST,
    "selftest.py:_check_photos": SELFTEST,
    "selftest.py:_check_matplotlib": SELFTEST,
    "selftest.py:environment_report": SELFTEST,
    "selftest.py:check": SELFTEST,
}


def _unit(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


def _course_imports(path: Path, tree: ast.AST):
    """(node, imported top-level unit, full dotted name) for every course_lib import."""
    package = ".".join(("course_lib", *path.relative_to(ROOT).parent.parts))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [name] if node.module or not node.level else [f"{name}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for full in names:
            parts = full.split(".")
            if parts[0] == "course_lib" and len(parts) > 1:
                yield node, parts[1], full


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_from_its_layer_or_below(path):
    unit = _unit(path)
    assert unit in RANK, f"{unit} is in no layer: add it to LAYERS and to CONTRIBUTING.md"
    tree = ast.parse(path.read_text())
    for node, imported, full in _course_imports(path, tree):
        assert imported in RANK, f"{path.name}:{node.lineno} imports unknown course_lib.{imported}"
        assert RANK[imported] <= RANK[unit], (
            f"{path.relative_to(ROOT)}:{node.lineno} imports {full} "
            f"({LAYERS[RANK[imported]][0]}), a layer above its own ({LAYERS[RANK[unit]][0]})"
        )
        if unit != "ops":
            assert "_backend" not in full.split("."), (
                f"{path.relative_to(ROOT)}:{node.lineno} imports {full}: ops._backend is "
                "private to course_lib/ops"
            )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_imports_inside_functions(path):
    tree = ast.parse(path.read_text())
    rel = str(path.relative_to(ROOT))
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import | ast.ImportFrom):
                key = f"{rel}:{fn.name}"
                assert key in ALLOWED_LOCAL_IMPORTS, (
                    f"{rel}:{node.lineno} imports inside {fn.name}(); move it to the top of the "
                    "module (or, if it breaks a real cycle, list it in ALLOWED_LOCAL_IMPORTS "
                    "with the reason)"
                )


def test_data_does_not_import_training():
    tree = ast.parse((ROOT / "data.py").read_text())
    imported = {unit for _, unit, _ in _course_imports(ROOT / "data.py", tree)}
    assert not imported & {"train", "batching", "callbacks", "checkpoints", "recipes"}

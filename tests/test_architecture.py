"""The package's rooms and their order: no import runs upward, no two rooms import each other, no srseg path
literal outside srseg.paths."""

from __future__ import annotations

import re

from tests.dvc_graph import SRC, direct_imports

#: Top-level modules and packages of srseg, bottom up: each may import only those before it (or itself). ``sr``
#: comes after ``seg``: segmentation-assisted and task-driven SR use the segmenter. ``methods`` (each compared
#: method, its params and its trainer) stands on the data pipelines and recipes of ``seg`` and ``sr``; the results,
#: the dvc.yaml renderer and the command line read the registry.
LAYERS = [
    "errors", "codegraph", "parallel", "params", "paths", "labels", "layout", "runtime", "entry",
    "io", "provenance", "archive", "degrade", "download", "instances",
    "metrics", "sources", "models", "training", "seg", "sr", "methods", "results", "dvcfile", "release", "cli",
]


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_is_in_a_layer() -> None:
    units = {p.relative_to(SRC / "srseg").parts[0].removesuffix(".py") for p in (SRC / "srseg").iterdir()
             if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file())}
    assert units - {"__init__"} <= set(LAYERS), sorted(units - set(LAYERS))


def test_no_import_runs_upward() -> None:
    upward = []
    for path in sorted((SRC / "srseg").rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        here = _unit(".".join(rel.parts))
        if here == "__init__":
            continue
        for module in direct_imports(path):
            there = _unit(module)
            if there in ("__init__", here):
                continue
            if LAYERS.index(there) > LAYERS.index(here):
                upward.append(f"{rel.as_posix()}.py imports {module}")
    assert not upward, upward


def test_no_pipeline_path_literals_outside_paths() -> None:
    """Pipeline paths live in srseg.paths (and dvc.yaml); elsewhere in src/ no "data/…", "models/…" or
    "metrics/…" string literal (docstrings and comments may mention them)."""
    import ast

    found = []
    for path in sorted((SRC / "srseg").rglob("*.py")):
        if path.name in ("paths.py", "dvcfile.py"):  # the layout, and the renderer of dvc.yaml's text
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if re.search(r"(^|[^\w/])(data|models|metrics|plots)/\w", node.value):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value[:60]!r}")
    assert not found, found

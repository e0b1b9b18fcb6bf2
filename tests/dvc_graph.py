"""Read ``dvc.yaml`` as DVC renders it, and the ``srseg`` modules a stage script imports (for the deps tests)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    """The source file of an ``srseg`` module (``srseg.a.b`` → src/srseg/a/b.py or its package __init__)."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts)
    return ".".join(parts[:-1])


@cache
def direct_imports(path: Path) -> frozenset[str]:
    """``srseg`` modules imported anywhere in ``path`` (module level or inside functions), as module names.

    ``from srseg.a import b`` counts ``srseg.a`` and, when ``b`` is a module, ``srseg.a.b``; a package's import
    also runs its ``__init__``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _package(path) if path.is_relative_to(SRC) else ""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "srseg" and module_file(name) is not None:
                parts = name.split(".")
                out.update(".".join(parts[: i + 1]) for i in range(len(parts)))  # parents' __init__ run too
    return frozenset(out)


def transitive_imports(script: Path) -> set[Path]:
    """Source files of every ``srseg`` module that running ``script`` can import."""
    seen: set[str] = set()
    todo = list(direct_imports(script))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(direct_imports(module_file(name)))  # type: ignore[arg-type]
    return {module_file(n) for n in seen}  # type: ignore[misc]


def rendered_stages(repo: Path = REPO) -> dict[str, dict]:
    """Every stage of ``dvc.yaml`` with matrices expanded and ``${…}`` resolved, as DVC sees it.

    ``{name: {"cmd", "deps", "params", "outs", "metrics", "plots"}}`` (paths as written, params as keys).
    """
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(repo)) as r:
        out = {}
        for stage in r.index.stages:
            deps = [d for d in stage.deps if not isinstance(d, ParamsDependency)]
            params = [k for d in stage.deps if isinstance(d, ParamsDependency) for k in d.params]
            out[stage.addressing.split(":")[-1]] = {
                "cmd": stage.cmd,
                "deps": [d.def_path for d in deps],
                "params": params,
                "outs": [o.def_path for o in stage.outs if not o.metric and not o.plot],
                "metrics": [o.def_path for o in stage.outs if o.metric],
                "plots": [o.def_path for o in stage.outs if o.plot],
            }
        return out

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


def code_deps(script: Path) -> list[str]:
    """The narrowest dvc.yaml deps that cover ``script`` and every srseg module it imports: a package folder
    when the script imports all of it, else the files (sorted, repository-relative)."""
    files = transitive_imports(script)
    chosen: set[Path] = set()

    def cover(folder: Path) -> bool:
        """Add ``folder`` whole if all its modules are imported; else its imported files and sub-folders."""
        inside = set(folder.rglob("*.py"))
        if folder != SRC / "srseg" and inside <= files:
            chosen.add(folder)
            return True
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
            cover(sub)
        chosen.update(f for f in folder.glob("*.py") if f in files)
        return False

    cover(SRC / "srseg")
    return [str(script.relative_to(REPO))] + sorted(str(p.relative_to(REPO)) for p in chosen)


def _write_code_deps(path: Path = REPO / "dvc.yaml") -> list[str]:
    """Rewrite every stage's code deps in ``dvc.yaml`` to :func:`code_deps` (data deps and comments kept)."""
    import re

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    doc = yaml.load(path.read_text())
    changed = []
    for name, stage in doc["stages"].items():
        script = REPO / re.match(r"python (stages/\S+\.py)", stage["cmd"]).group(1)
        want = code_deps(script)
        deps = stage["deps"]
        data = [d for d in deps if not str(d).startswith(("src/", "stages/"))]
        if [d for d in deps if str(d).startswith(("src/", "stages/"))] != want:
            changed.append(name)
            deps.clear()
            deps.extend(want + data)
    if changed:
        from io import StringIO

        buf = StringIO()
        yaml.dump(doc, buf)
        path.write_text(buf.getvalue())
    return changed


def upstream_params(stages: dict[str, dict], name: str) -> set[str]:
    """The params of stage ``name`` and of every stage whose outputs it depends on, transitively (what an
    output of ``name`` depends on, as ``dvc.yaml`` declares it)."""
    producers = [(Path(out), n) for n, s in stages.items() for out in s["outs"] + s["metrics"] + s["plots"]]
    seen: set[str] = set()
    todo, params = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        params.update(stages[current]["params"])
        for dep in map(Path, stages[current]["deps"]):
            todo.extend(n for out, n in producers if dep == out or out in dep.parents or dep in out.parents)
    return params


if __name__ == "__main__":  # python -m tests.dvc_graph: bring dvc.yaml's code deps up to date with the imports
    print("updated:", ", ".join(_write_code_deps()) or "nothing")

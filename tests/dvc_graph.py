"""Read ``dvc.yaml`` as DVC renders it, and the ``srseg`` modules a stage script imports (for the deps tests)."""

from __future__ import annotations

from pathlib import Path

from srseg.codegraph import closure, direct_imports, module_file  # noqa: F401 (the tests' import graph)

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def transitive_imports(script: Path) -> set[Path]:
    """Source files of every ``srseg`` module that running ``script`` can import (and ``script`` itself)."""
    return set(closure([script]))


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

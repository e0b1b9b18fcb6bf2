"""dvc.yaml's code deps cover exactly what each stage script imports, so editing a module re-runs what uses it
and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.dvc_graph import REPO, SRC, rendered_stages, transitive_imports

STAGES = rendered_stages()


def _script(cmd: str) -> Path:
    m = re.match(r"python (stages/\S+\.py)", cmd)
    assert m, f"stage command does not run a stage script: {cmd}"
    return REPO / m.group(1)


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO)
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_the_imports(name: str) -> None:
    stage = STAGES[name]
    script = _script(stage["cmd"])
    assert str(script.relative_to(REPO)) in stage["deps"], f"{name}: its script is not a dep"
    imported = transitive_imports(script)
    missing = sorted(str(p.relative_to(REPO)) for p in imported if not _covered(p, stage["deps"]))
    assert not missing, (f"{name} imports modules dvc.yaml does not list as deps: {missing} "
                         "(python -m tests.dvc_graph updates them)")
    # and no wider than the imports: a listed file is imported; a listed folder only when all of it is
    for dep in (d for d in stage["deps"] if d.startswith("src/")):
        path = REPO / dep
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        unused = [str(f.relative_to(REPO)) for f in files if f not in imported]
        assert not unused, (f"{name}: dep {dep} covers modules the stage never imports: {unused} "
                            "(python -m tests.dvc_graph updates them)")


def test_every_module_is_reachable_from_some_stage_or_the_cli() -> None:
    used = set().union(*(transitive_imports(_script(s["cmd"])) for s in STAGES.values()),
                       transitive_imports(SRC / "srseg" / "cli.py"), {SRC / "srseg" / "cli.py"})
    orphans = sorted(str(p.relative_to(REPO)) for p in (SRC / "srseg").rglob("*.py") if p not in used)
    assert not orphans, f"modules nothing imports: {orphans}"


NO_TF = ("download", "degrade@2", "summarize", "plots")


def test_non_tensorflow_stages_never_import_it() -> None:
    """download, degrade, summarize and plots start fast: nothing they import pulls in TensorFlow or Keras,
    not even lazily (static check) and not through a third-party package (checked by importing them)."""
    import ast
    import subprocess
    import sys

    modules = set()
    for name in NO_TF:
        for path in transitive_imports(_script(STAGES[name]["cmd"])):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            heavy = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
                     and any((getattr(n, "module", None) or a.name).split(".")[0] in ("tensorflow", "keras", "dvclive")
                             for a in n.names)]
            assert not heavy, f"{name} imports TensorFlow/Keras through {path.relative_to(REPO)}"
            rel = path.relative_to(SRC).with_suffix("")
            modules.add(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    code = "; ".join(f"import {m}" for m in sorted(modules))
    code += "; import sys; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out

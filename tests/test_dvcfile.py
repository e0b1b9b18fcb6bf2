"""dvc.yaml is rendered from the registry and up to date; every stage depends on the code fingerprint of its kind,
which covers exactly what its script (and, for a method's training stage, the method's module) imports; the
evaluation stages import no training code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from srseg.codegraph import closure, fingerprint
from srseg.dvcfile import CODE, code_kinds, render
from srseg.methods import registry
from tests.dvc_graph import REPO, SRC, rendered_stages, transitive_imports

STAGES = rendered_stages()


def test_dvc_yaml_is_up_to_date() -> None:
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == render(), "run python -m srseg.dvcfile"
    out = subprocess.run([sys.executable, "-m", "srseg.dvcfile", "--check"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_dvc_plots_page_is_the_offline_one() -> None:
    """`.dvc/config` sends `dvc plots show` / `diff` to the committed page, vl-convert's bundle as rendered: every
    script inline (tests/results/test_plots.py renders it), none from a CDN."""
    import configparser

    from srseg.dvcfile import HTML_TEMPLATE, render_html_template

    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert REPO / ".dvc" / config["plots"]["html_template"] == REPO / HTML_TEMPLATE
    page = (REPO / HTML_TEMPLATE).read_text(encoding="utf-8")
    assert page == render_html_template(), "run python -m srseg.dvcfile"
    assert "{plot_divs}" in page and "{scripts}" not in page and "<script src" not in page


def test_dvc_yaml_reads_in_one_screen_per_kind() -> None:
    """Each kind of stage written once, each method in a few lines: the base stages (the degradation sweep's among
    them), the plots and the header in about 250 lines, then at most 25 per registered method (its evaluation stage,
    its training stage, its artifact)."""
    from srseg.methods.registry import METHODS

    text = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250 + 25 * len(METHODS)
    assert "src/srseg/" not in text.split("artifacts:")[0].replace("- src/srseg\n", "")  # no stage lists modules


def _entries(cmd: str) -> tuple[str, ...]:
    script = re.match(r"python (stages/\S+\.py)", cmd)
    assert script, f"stage command does not run a stage script: {cmd}"
    method = re.search(r"--method (\w+)", cmd)
    return (script.group(1),) + ((f"src/srseg/methods/{method.group(1)}.py",) if method else ())


@pytest.mark.parametrize("name", sorted(n for n in STAGES if n != "code"))
def test_each_stage_depends_on_the_fingerprint_of_its_code(name: str) -> None:
    stage = STAGES[name]
    prints = [d for d in stage["deps"] if d.startswith(CODE.as_posix() + "/")]
    assert len(prints) == 1, f"{name}: {prints}"
    kind = Path(prints[0]).stem
    assert code_kinds()[kind] == _entries(stage["cmd"]), f"{name}: its fingerprint {kind} is of other code"
    assert not [d for d in stage["deps"] if d.startswith(("src/", "stages/"))], f"{name} lists source files"


def test_the_code_stage_reads_every_kind_of_code() -> None:
    code = STAGES["code"]
    assert code["deps"] == ["stages", "src/srseg"] and code["outs"] == [CODE.as_posix()]
    for kind, entries in code_kinds().items():
        files = closure(REPO / e for e in entries)
        assert all(f.is_relative_to(SRC / "srseg") or f.is_relative_to(REPO / "stages") for f in files), kind


def test_a_fingerprint_lists_the_script_and_every_module_it_imports() -> None:
    prints = {kind: fingerprint(entries, REPO) for kind, entries in code_kinds().items()}
    evaluate = set(prints["evaluate"])
    assert {"stages/evaluate.py", "src/srseg/seg/evaluate.py", "src/srseg/models/pspnet.py"} <= evaluate
    # evaluation imports no training code: editing a training loop or a method re-runs no evaluation (the
    # degradation sweep's evaluation neither)
    assert {"stages/evaluate_cliff.py", "src/srseg/seg/sweep.py", "src/srseg/seg/evaluate.py"} <= \
        set(prints["evaluate_cliff"])
    for kind in ("evaluate", "evaluate_cliff"):
        training = [f for f in prints[kind] if f.startswith(("src/srseg/training/", "src/srseg/methods/"))
                    or f in ("src/srseg/seg/train.py", "src/srseg/sr/train.py", "src/srseg/sr/finetune.py")]
        assert not training, (kind, training)
    assert "src/srseg/training/loop.py" in prints["train_seg"] and "src/srseg/training/loop.py" in prints["task_sr"]
    # a method's training stage imports its own module, not another method's
    assert "src/srseg/methods/task_sr.py" in prints["task_sr"]
    assert "src/srseg/methods/joint.py" not in prints["task_sr"]
    # models/joint.py is in every closure that loads a segmenter: pspnet.load_model imports it so that a saved joint
    # model's own layers deserialise (the method's training code, methods/joint.py, stays out)
    assert "src/srseg/models/joint.py" in prints["task_sr"]
    for kind, files in prints.items():
        assert all(len(h) == 64 for h in files.values()), kind


def test_every_module_is_reachable_from_some_stage_or_the_cli() -> None:
    """From a stage, the ``srseg`` command, the Python API, or a ``python -m srseg.<module>`` tool (a module with a
    main guard)."""
    tools = [p for p in (SRC / "srseg").rglob("*.py") if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8")]
    used = set().union(*(transitive_imports(REPO / e) for entries in code_kinds().values() for e in entries),
                       *(transitive_imports(p) for p in tools),
                       transitive_imports(SRC / "srseg" / "cli.py"), transitive_imports(SRC / "srseg" / "api.py"),
                       transitive_imports(REPO / "stages" / "code.py"))
    orphans = sorted(str(p.relative_to(REPO)) for p in (SRC / "srseg").rglob("*.py") if p not in used)
    assert not orphans, f"modules nothing imports: {orphans}"


def test_every_output_but_the_checks_persists() -> None:
    """As DVC reads dvc.yaml: every output (metrics and plots too) of every stage but code and check_params is
    persisted, so DVC never deletes one before its stage runs (each stage replaces its outputs in one rename). The
    run cache, which skips a stage with a persisted output, skipped each of those already: DVC does not save a stage
    with an uncached output that is no metric or plot (dvc.stage.Stage.run), and each has one."""
    from dvc.repo import Repo

    with Repo(str(REPO)) as r:
        stages = {s.addressing.split(":")[-1]: s for s in r.index.stages}
        outs = {(name, o.def_path): o.persist for name, s in stages.items() for o in s.outs}
        uncached = {name for name, s in stages.items()
                    if any(not o.use_cache and not (o.is_metric or o.is_plot) for o in s.outs)}
    wrong = sorted(f"{name}: {path}" for (name, path), persist in outs.items()
                   if persist == (name in ("code", "check_params")))
    assert len(outs) > 100 and not wrong, wrong
    assert uncached <= set(stages) - {"code", "check_params"}
    assert set(stages) - uncached - {"code", "check_params"} == {"cliff_degrade"}  # cached outputs only (4 s)


def test_every_method_has_its_stages() -> None:
    for m in registry.METHODS.values():
        assert any(n.split("@")[0] == m.eval_stage for n in STAGES), m.name
        if m.train is not None:
            assert any(n.split("@")[0] == m.stage and f"--method {m.name}" in s["cmd"] for n, s in STAGES.items())


NO_TF = ("download", "degrade@2", "cliff_degrade", "summarize", "plots")


def _type_checking(node: ast.If) -> bool:
    """``if TYPE_CHECKING:`` (imports for annotations only, never run)."""
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _import_time(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is imported (module level, outside ``if TYPE_CHECKING:``)."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and not _type_checking(node):
            todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return found


def _loaded_at_import(script: Path) -> set[Path]:
    """The source files importing ``script``'s module-level imports loads (lazy imports inside functions not)."""
    from srseg.codegraph import module_file

    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in _import_time(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                for i in range(len(parts)):  # a module's packages run their __init__ first
                    f = module_file(".".join(parts[: i + 1])) if parts[0] == "srseg" else None
                    if f is not None:
                        todo.append(f)
    return seen


def test_non_tensorflow_stages_never_import_it() -> None:
    """download, degrade, summarize and plots start fast: nothing they load at import pulls in TensorFlow or Keras
    (static check; a method's trainer imports them inside its functions), nor through a third-party package
    (checked by importing them)."""
    modules = set()
    for name in NO_TF:
        for path in _loaded_at_import(REPO / _entries(STAGES[name]["cmd"])[0]):
            heavy = [n for n in _import_time(ast.parse(path.read_text(encoding="utf-8")))
                     if any(((n.module if isinstance(n, ast.ImportFrom) else None) or a.name).split(".")[0]
                            in ("tensorflow", "keras", "dvclive") for a in n.names)]
            assert not heavy, f"{name} imports TensorFlow/Keras through {path.relative_to(REPO)}"
            if path.is_relative_to(SRC):
                rel = path.relative_to(SRC).with_suffix("")
                modules.add(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    code = "; ".join(f"import {m}" for m in sorted(modules))
    code += "; import sys; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_editing_a_module_changes_the_fingerprints_of_the_stages_that_import_it(tmp_path: Path) -> None:
    """In a copy of the repository, an edit of the training loop changes the fingerprints of the trainings only;
    an edit of one method's module changes that method's training stage's (and the registry readers')."""
    import shutil

    copy = tmp_path / "repo"
    for part in ("stages", "src"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    kinds = code_kinds()
    before = {kind: fingerprint(entries, copy) for kind, entries in kinds.items()}
    with open(copy / "src/srseg/training/loop.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    after = {kind: fingerprint(entries, copy) for kind, entries in kinds.items()}
    changed = {kind for kind in kinds if before[kind] != after[kind]}
    trainings = {"pretrain_sr", "train_seg", *(m.stage for m in registry.trained())}
    assert trainings <= changed and "evaluate" not in changed and "degrade" not in changed
    assert changed - trainings <= {"check_params", "summarize", "plots"}  # the registry's readers, cheap to re-run
    with open(copy / "src/srseg/methods/task_sr.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    again = {kind: fingerprint(entries, copy) for kind, entries in kinds.items()}
    moved = {kind for kind in kinds if again[kind] != after[kind]}
    assert "task_sr" in moved and not moved & {"finetune_sr", "sft_sr", "train_joint", "evaluate", "train_seg"}

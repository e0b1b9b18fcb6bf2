"""The runs of a sweep, read from DVC experiments: ``dvc exp show --json`` (DVC 3's layout: a list of commit
entries, the first the workspace, each with its ``experiments``), each run's params and its ``metrics/summary.json``
(``git show <rev>:metrics/summary.json``, the workspace's file), and which runs change only the swept keys.
:mod:`srseg.results.tradeoff` draws them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from srseg.errors import SrsegError
from srseg.paths import REPO

#: The swept key that labels the points unless ``--param`` names others.
DEFAULT_PARAM = "combine.task.lambda_task"
PARAMS_FILE = "params.yaml"
#: The commands of a sweep, for the error that finds none.
SWEEP = (f"dvc exp run --queue -S {DEFAULT_PARAM}=0,1,10,100,1000", "dvc queue start -j 1",
         "python -m srseg.results.tradeoff")


@dataclass(frozen=True)
class Run:
    """One revision of ``dvc exp show``: ``kind`` is ``workspace``, ``baseline`` (a commit) or ``experiment``;
    ``params``: ``{params file: its values}`` as DVC read them; ``base``: those of the commit it started from."""

    name: str
    rev: str
    kind: str
    params: Mapping[str, Any]
    base: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.name if self.kind == "workspace" else f"{self.kind} {self.name} ({self.rev[:7]})"


def _entry(rev: Mapping[str, Any], kind: str, name: str | None, notes: list[str],
           base: Mapping[str, Any] | None = None) -> Run | None:
    data = rev.get("data") or {}
    sha = str(rev.get("rev") or data.get("rev") or "")
    name = name or rev.get("name") or sha[:7]
    if rev.get("error") or not data:
        error = rev.get("error") or {}
        notes.append(f"skipped {kind} {name}: {error.get('msg') or 'no data'}" if isinstance(error, dict)
                     else f"skipped {kind} {name}: {error}")
        return None
    params = {f: (v or {}).get("data") or {} for f, v in (data.get("params") or {}).items()}
    return Run(str(name), sha, kind, params, params if base is None else base)


def runs_of(doc: Any) -> tuple[list[Run], list[str]]:
    """The revisions of a ``dvc exp show --json`` document (DVC 3: a list of commit entries, the first the
    workspace, each with ``data`` and its ``experiments``, each of those a ``revs`` list), workspace last; and a
    note per one left out (queued, running or failed experiments, entries with an error)."""
    if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
        raise SrsegError("dvc exp show --json: expected a list of commit entries (DVC 3)")
    runs: list[Run] = []
    workspace: list[Run] = []
    notes: list[str] = []
    for commit in doc:
        is_ws = commit.get("rev") == "workspace"
        base = _entry(commit, "workspace" if is_ws else "baseline", "workspace" if is_ws else None, notes)
        if base is not None:
            (workspace if is_ws else runs).append(base)
        parent = None if base is None else base.params
        for exp in commit.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state")
            if state not in (None, "success"):
                notes.append(f"skipped experiment {exp.get('name')}: {state}")
                continue
            for rev in exp.get("revs") or []:
                found = _entry(rev, "experiment", exp.get("name"), notes, parent)
                if found is not None:
                    runs.append(found)
    head = next((r for r in runs if r.kind == "baseline"), None)  # the workspace's commit: the first after it
    return runs + [replace(w, base=head.params) if head else w for w in workspace], notes


def flat(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{params file: values}`` as ``{"file:a.b.c": leaf value}`` (a list is a leaf)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping) and node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if not prefix.endswith(":") else f"{prefix}{k}")
        else:
            out[prefix] = node
    for file, values in params.items():
        walk(values, f"{file}:")
    return out


def covered(key: str, keys: Sequence[str]) -> bool:
    """Whether the params key ``file:a.b.c`` is one of ``keys`` (``a.b`` or ``file:a.b``) or lies under one."""
    file, _, dotted = key.partition(":")
    for k in keys:
        kf, _, kd = k.rpartition(":")
        if (not kf or kf == file) and (dotted == kd or dotted.startswith(kd + ".")):
            return True
    return False


def select(runs: Sequence[Run], keys: Sequence[str]) -> tuple[list[Run], list[str]]:
    """The runs that change only ``keys`` (or nothing) against the commit they started from, so that a point
    differs from another only in what labels it (the λ sweep and the λ_feat sweep can share a commit); a note per
    run left out. SrsegError when there is no experiment, or none that changes only ``keys``."""
    exps = [r for r in runs if r.kind == "experiment"]
    if not exps:
        raise SrsegError("no DVC experiments found: queue a sweep with `" + SWEEP[0] + "`, run it with `" + SWEEP[1]
                         + "` (`dvc queue status` until done), then run `" + SWEEP[2] + "` again")
    for key in keys:  # a key absent from the first run (the baseline commit): a typo, not a sweep of it
        param_value(runs[0], key)
    kept, notes = [], []
    for run in runs:
        now, before = flat(run.params), flat(run.base)
        other = [k.removeprefix(PARAMS_FILE + ":") for k in sorted(set(now) | set(before))
                 if now.get(k, KeyError) != before.get(k, KeyError) and not covered(k, keys)]
        if other:
            notes.append(f"left out {run.title}: it also changes {', '.join(other)} (not a --param)")
        else:
            kept.append(run)
    if not any(r.kind == "experiment" for r in kept):
        first = next(n for n in notes if " experiment " in n)
        raise SrsegError(f"none of the {len(exps)} experiments changes only {' and '.join(keys)} (--param names the "
                         f"swept keys); e.g. {first.removeprefix('left out ')}")
    return kept, notes


def param_value(run: Run, key: str) -> Any:
    """``key`` (``a.b.c``, or ``file:a.b.c`` for another params file) in the run's params; SrsegError naming the run
    and the key when it has none."""
    file, _, dotted = key.rpartition(":")
    files = [file] if file else [PARAMS_FILE, *sorted(set(run.params) - {PARAMS_FILE})]
    for f in files:
        node: Any = run.params.get(f, {})
        for part in dotted.split("."):
            node = node.get(part, KeyError) if isinstance(node, Mapping) else KeyError
        if node is not KeyError:
            return node
    raise SrsegError(f"{run.title}: no param {key} in {', '.join(files) or 'its params'} (--param names a key of "
                     f"{PARAMS_FILE}, e.g. {DEFAULT_PARAM})")


def show_experiments(repo: Path) -> Any:
    """``dvc exp show --json`` in ``repo``, parsed."""
    proc = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=repo, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        said = next((ln for ln in lines if ln.startswith("ERROR")), lines[0] if lines else f"exit {proc.returncode}")
        raise SrsegError(f"dvc exp show --json (in {repo}) failed: {said}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise SrsegError(f"dvc exp show --json: not JSON ({exc})") from None


def summary_text(repo: Path, run: Run) -> str | None:
    """The run's summary.json as text: the workspace's file, or ``git show <rev>:<file>``; None when it has none."""
    if run.kind == "workspace":
        path = repo / REPO.summary
        return path.read_text(encoding="utf-8") if path.is_file() else None
    proc = subprocess.run(["git", "show", f"{run.rev}:{REPO.summary.as_posix()}"], cwd=repo, capture_output=True,
                          text=True)
    return proc.stdout if proc.returncode == 0 else None

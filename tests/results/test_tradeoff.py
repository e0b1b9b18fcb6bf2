"""The PSNR–PACC trade-off of a sweep (issue 30.4): the Pareto front, the reading of `dvc exp show --json` (a
trimmed copy and a real one from a throwaway DVC repository with a queued sweep), the table, the figure and the
one-line errors."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from srseg.errors import SrsegError
from srseg.methods.registry import get
from srseg.results import tradeoff
from srseg.results.experiments import Run, param_value, runs_of, select
from srseg.results.tradeoff import pareto

TASK, FT = get("task_sr"), get("ft_sr")
KEY = "combine.task.lambda_task"
DATA = Path(__file__).resolve().parents[1] / "data"


# --- the Pareto front -------------------------------------------------------------------------------------------------

def test_pareto_front_keeps_the_undominated_points() -> None:
    xy = [(1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (0.9, 0.9), (1.0, 0.5), (0.4, 1.9)]
    # (0.9, 0.9) below (1, 1) in both; (1, 0.5) equal in x, lower in y; (0.4, 1.9) below (0.5, 2)
    assert pareto(xy) == [True, True, True, False, False, False]


def test_pareto_front_ties_single_point_and_none() -> None:
    assert pareto([(1.0, 1.0), (1.0, 1.0)]) == [True, True]  # equal points: neither beats the other
    assert pareto([(1.0, 1.0), (1.0, 1.0), (1.0, 1.1)]) == [False, False, True]
    assert pareto([(3.0, 0.2)]) == [True]
    assert pareto([]) == []


# --- reading `dvc exp show --json` ------------------------------------------------------------------------------------

def _rev(sha: str, name: str | None, lam: Any, feat: float = 0.0, **extra: Any) -> dict[str, Any]:
    params = {"params.yaml": {"data": {"seed": 0, "combine": {"task": {"lambda_task": lam, "lambda_feat": feat}}}}}
    return {"rev": sha, "name": name, "data": {"rev": sha, "timestamp": None, "params": params, "metrics": {},
                                                "deps": {}, "outs": {}, "meta": {}}, "error": None,
            "experiments": None, **extra}


def _exp(sha: str, name: str, lam: Any, state: str | None = "success", feat: float = 0.0) -> dict[str, Any]:
    executor = None if state is None else {"state": state, "name": "dvc-task", "local": {"returncode": 0}}
    return {"revs": [_rev(sha, name, lam, feat)], "executor": executor, "name": name}


def show_doc() -> list[dict[str, Any]]:
    """A trimmed `dvc exp show --json` of DVC 3.67 (the shape of a real one, fewer params): the workspace, the
    baseline commit with two finished experiments (one from the queue, one run in the workspace), one of another
    sweep (λ_feat), a queued one and a failed one."""
    failed = _exp("d" * 40, "broken-run", 5.0, "failed")
    failed["revs"][0]["error"] = {"type": "ReproductionError", "msg": "failed to reproduce 'task_sr@4-0'"}
    return [_rev("workspace", None, 100.0),
            _rev("a" * 40, "tradeoff", 100.0, experiments=[
                _exp("b" * 40, "lam-0", 0.0), _exp("c" * 40, "lam-10", 10.0, None),
                _exp("f" * 40, "feat-1", 100.0, feat=1.0),
                _exp("e" * 40, "waiting", 1000.0, "queued"), failed])]


def test_runs_of_a_trimmed_document() -> None:
    runs, notes = runs_of(show_doc())
    assert [(r.kind, r.name, r.rev) for r in runs] == [
        ("baseline", "tradeoff", "a" * 40), ("experiment", "lam-0", "b" * 40), ("experiment", "lam-10", "c" * 40),
        ("experiment", "feat-1", "f" * 40), ("workspace", "workspace", "workspace")]
    assert [param_value(r, KEY) for r in runs] == [100.0, 0.0, 10.0, 100.0, 100.0]
    assert param_value(runs[3], "params.yaml:combine.task.lambda_feat") == 1.0
    assert all(r.base == runs[0].params for r in runs)  # each started from the baseline commit
    assert notes == ["skipped experiment waiting: queued", "skipped experiment broken-run: failed"]
    with pytest.raises(SrsegError, match=r"^experiment lam-0 \(bbbbbbb\): no param combine\.joint\.w_sr in "
                                         r"params\.yaml \(--param"):
        param_value(runs[1], "combine.joint.w_sr")
    with pytest.raises(SrsegError, match="expected a list of commit entries"):
        runs_of({"workspace": {}})


def test_select_keeps_the_runs_that_change_only_the_swept_keys() -> None:
    """Two sweeps from one commit: the λ sweep's plot leaves the λ_feat experiment out, and the other way round."""
    runs, _ = runs_of(show_doc())
    kept, notes = select(runs, [KEY])
    assert [r.name for r in kept] == ["tradeoff", "lam-0", "lam-10", "workspace"]
    assert notes == ["left out experiment feat-1 (fffffff): it also changes combine.task.lambda_feat (not a --param)"]
    kept, notes = select(runs, ["params.yaml:combine.task.lambda_feat"])
    assert [r.name for r in kept] == ["tradeoff", "feat-1", "workspace"]
    assert len(notes) == 2 and notes[0].startswith("left out experiment lam-0 (bbbbbbb): it also changes "
                                                   "combine.task.lambda_task")
    assert [r.name for r in select(runs, ["combine.task"])[0]] == ["tradeoff", "lam-0", "lam-10", "feat-1",
                                                                   "workspace"]  # a section covers its keys
    with pytest.raises(SrsegError, match=r"^none of the 3 experiments changes only seed \(--param names the swept "
                                         r"keys\); e.g. experiment lam-0 \(bbbbbbb\): it also changes "):
        select(runs, ["seed"])


def test_runs_of_a_real_document() -> None:
    """tests/data/dvc_exp_show.json: `dvc exp show --json` of DVC 3.67.1 in a tiny repository after
    `dvc exp run --queue -S x=1,2`, `dvc queue start`, then one more queued (running when saved)."""
    runs, notes = runs_of(json.loads((DATA / "dvc_exp_show.json").read_text()))
    assert [(r.kind, r.name, r.rev[:7], param_value(r, "x")) for r in runs] == [
        ("baseline", "master", "c4d9324", 0), ("experiment", "grapy-vans", "9f30a3e", 2),
        ("experiment", "tamer-barb", "b16c17d", 1), ("workspace", "workspace", "workspa", 0)]
    assert notes == ["skipped experiment waiting: running"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _dvc(repo: Path, *args: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"dvc {' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def _variant(method: Any, psnr: float, pacc: float, half: float = 0.5) -> dict[str, Any]:
    return {"method": method.name, "scale": 4, "label": method.label_at(4), "pacc": pacc,
            "pacc_ci95": [pacc - half / 100, pacc + half / 100], "miou": pacc / 2, "miou_ci95": None,
            "psnr_y": psnr, "psnr_y_ci95": [psnr - half, psnr + half], "ssim_y": 0.8}


def summary_json(psnr: float, pacc: float, half: float = 0.5, ft: tuple[float, float] = (31.8, 0.86)) -> str:
    """A schema-2 summary.json with the task-driven SR at ×4 (``psnr`` dB, ``pacc``, intervals ±``half`` dB and
    ±``half`` pp) and its baseline, the plain fine-tune."""
    return json.dumps({"schema_version": 2, "settings": {"seeds": [0]}, "comparisons": {}, "combined": {},
                       "variants": {TASK.variant(4): _variant(TASK, psnr, pacc, half),
                                    FT.variant(4): _variant(FT, *ft)}}, sort_keys=True)


STAGE = """import json, yaml
x = yaml.safe_load(open("params.yaml"))["x"]
s = json.load(open("template.json"))
v = s["variants"]["task_sr_x4"]
v["psnr_y"], v["psnr_y_ci95"], v["pacc"] = 32.0 - x, [31.9 - x, 32.1 - x], 0.80 + x / 100
v["pacc_ci95"] = [v["pacc"] - 0.001, v["pacc"] + 0.001]
json.dump(s, open("metrics/summary.json", "w"), sort_keys=True)
"""


@pytest.mark.slow  # 32–43 s on 2 cores busy with two training runs: 8 dvc calls and a queue worker
def test_a_real_queued_sweep_is_read_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A throwaway DVC repository whose one stage writes a summary.json from its param ``x``; the sweep
    ``dvc exp run --queue -S x=1,2`` + ``dvc queue start`` (the documented grid syntax), then the command reads
    ``dvc exp show --json`` and every experiment's committed summary (``git show <rev>:…``)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@t")
    _git(repo, "config", "user.name", "t")
    _dvc(repo, "init", "-q")
    (repo / "params.yaml").write_text("x: 0\n")
    (repo / "s.py").write_text(STAGE)
    (repo / "template.json").write_text(summary_json(0.0, 0.0))
    (repo / "metrics").mkdir()
    (repo / "dvc.yaml").write_text(f"stages:\n  s:\n    cmd: {sys.executable} s.py\n    deps: [s.py, template.json]\n"
                                   "    params: [x]\n    outs:\n      - metrics/summary.json: {cache: false}\n")
    _dvc(repo, "repro", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "baseline")
    _dvc(repo, "exp", "run", "--queue", "-S", "x=1,2")
    _dvc(repo, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 120
    while any(w in (status := _dvc(repo, "queue", "status")) for w in ("Queued", "Running")):
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status.count("Success") == 2, status

    runs, notes = runs_of(json.loads(_dvc(repo, "exp", "show", "--json")))
    assert notes == []
    exps = [r for r in runs if r.kind == "experiment"]
    assert sorted(param_value(r, "x") for r in exps) == [1, 2]
    assert [r.kind for r in runs] == ["baseline", "experiment", "experiment", "workspace"]
    assert runs[0].rev == _git(repo, "rev-parse", "HEAD").strip()
    for r in exps:  # each rev is the experiment's commit, holding its own summary
        committed = json.loads(_git(repo, "show", f"{r.rev}:metrics/summary.json"))
        assert committed["variants"]["task_sr_x4"]["psnr_y"] == 32.0 - param_value(r, "x")

    out = tmp_path / "tradeoff.png"
    assert tradeoff.main(["--repo", str(repo), "--param", "x", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split(" | ") for ln in lines if ln.startswith("| ") and "---" not in ln][1:]
    # the workspace is the baseline commit's run (the same summary): shown once; higher x, lower PSNR, higher PACC
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("0", "32.00 [31.90, 32.10]", "80.00 [79.90, 80.10]", "yes |"),
        ("1", "31.00 [30.90, 31.10]", "81.00 [80.90, 81.10]", "yes |"),
        ("2", "30.00 [29.90, 30.10]", "82.00 [81.90, 82.10]", "yes |"),
        ("—", "31.80 [31.30, 32.30]", "86.00 [85.50, 86.50]", "— |")]
    assert "overlap on both axes (not told apart) for no pair of points." in lines[-2]
    assert out.stat().st_size > 10_000


# --- the table, the figure and the errors, from fake summaries ------------------------------------------------------

@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """`dvc exp show --json` is :func:`show_doc`; each revision's summary.json is ``texts[rev]`` (edit to vary)."""
    texts: dict[str, str | None] = {
        "a" * 40: summary_json(31.7, 0.873),         # the baseline commit, λ = 100
        "b" * 40: summary_json(31.9, 0.860),         # λ = 0: sharper, segments worse
        "c" * 40: summary_json(31.8, 0.8615, 0.02),  # λ = 10: between the two (narrow intervals)
        "workspace": summary_json(31.7, 0.873),      # = the baseline commit: shown once
    }
    monkeypatch.setattr(tradeoff, "show_experiments", lambda repo: show_doc())
    monkeypatch.setattr(tradeoff, "summary_text", lambda repo, run: texts[run.rev])  # feat-1's: never read
    return texts


def test_table_and_figure_from_fake_summaries(fake: dict[str, str | None], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fig" / "tradeoff.png"
    assert tradeoff.main(["--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "skipped experiment waiting: queued", "skipped experiment broken-run: failed",
        "left out experiment feat-1 (fffffff): it also changes combine.task.lambda_feat (not a --param)"]
    assert captured.out.splitlines() == [
        f"| run | {KEY} | Y-PSNR, dB [95 % CI] | PACC, % [95 % CI] | Pareto front |",
        "| :--- | :--- | ---: | ---: | :--- |",
        "| lam-0 | 0 | 31.90 [31.40, 32.40] | 86.00 [85.50, 86.50] | yes |",
        "| lam-10 | 10 | 31.80 [31.78, 31.82] | 86.15 [86.13, 86.17] | yes |",
        "| tradeoff | 100 | 31.70 [31.20, 32.20] | 87.30 [86.80, 87.80] | yes |",
        f"| reference: {FT.label_at(4)} | — | 31.80 [31.30, 32.30] | 86.00 [85.50, 86.50] | — |",
        "",
        "The front is on point estimates; intervals overlap on both axes (not told apart) for 0 & 10.",
        f"figure: {out}",
    ]
    first = out.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in first
    assert tradeoff.main(["--out", str(out)]) == 0
    assert out.read_bytes() == first  # the same data, the same bytes

    capsys.readouterr()
    fake["c" * 40] = summary_json(31.8, 0.855, 0.02)  # λ = 10 now below λ = 0 in both
    assert tradeoff.main(["--out", str(out)]) == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| lam-")]
    assert rows[1].endswith("| 85.50 [85.48, 85.52] | no |"), rows


def test_the_figure_fits_the_data_range(fake: dict[str, str | None]) -> None:
    runs, _ = select(runs_of(show_doc())[0], [KEY])
    points = tradeoff.collect(runs, lambda r: fake[r.rev], TASK, 4, [KEY])
    ref = tradeoff.reference(runs, lambda r: fake[r.rev], TASK, 4)
    fig = tradeoff.figure(points, pareto([(p.psnr, p.pacc) for p in points]), [KEY], TASK, 4, ref)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert 84 < lo < 85.5 and 87.8 < hi < 89  # PACC in %, around the data, not 0–100
    lo, hi = ax.get_xlim()
    assert 31 < lo < 31.2 and 32.4 < hi < 32.6
    assert sorted(t.get_text() for t in ax.texts) == ["0", "10", "100"]


def test_the_errors_are_one_line(fake: dict[str, str | None], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = str(tmp_path / "t.png")
    assert tradeoff.main(["--out", out, "--param", "combine.task.nope"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: baseline tradeoff (aaaaaaa): no param combine.task.nope in params.yaml (--param names a key of "
        f"params.yaml, e.g. {KEY})")

    assert tradeoff.main(["--out", out, "--scale", "2"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: baseline tradeoff (aaaaaaa): its metrics/summary.json has no task_sr_x2"), err

    missing = json.loads(summary_json(31.0, 0.8))
    del missing["variants"][TASK.variant(4)]
    fake["b" * 40] = json.dumps(missing)
    assert tradeoff.main(["--out", out]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: experiment lam-0 (bbbbbbb): its metrics/summary.json has no task_sr_x4"), err

    fake["b" * 40] = "{"
    assert tradeoff.main(["--out", out]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: experiment lam-0 (bbbbbbb): metrics/summary.json: not valid JSON ("), err

    fake["b" * 40] = None
    assert tradeoff.main(["--out", out]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: experiment lam-0 (bbbbbbb): no metrics/summary.json in that revision")

    bare = copy.deepcopy(show_doc())
    bare[1]["experiments"] = None
    monkeypatch.setattr(tradeoff, "show_experiments", lambda repo: bare)
    assert tradeoff.main(["--out", out]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: no DVC experiments found: queue a sweep with `dvc exp run --queue -S combine.task.lambda_task=0,1,10,"
        "100,1000`, run it with `dvc queue start -j 1` (`dvc queue status` until done), then run "
        "`python -m srseg.results.tradeoff` again")
    assert not Path(out).exists()


def test_a_saved_json_is_read_instead(fake: dict[str, str | None], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def no_dvc(repo: Path) -> Any:
        raise AssertionError("ran dvc exp show")

    monkeypatch.setattr(tradeoff, "show_experiments", no_dvc)
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show_doc()))
    assert tradeoff.main(["--json", str(saved), "--out", str(tmp_path / "t.png")]) == 0
    assert "| lam-0 | 0 |" in capsys.readouterr().out
    saved.write_text("{")
    assert tradeoff.main(["--json", str(saved), "--out", str(tmp_path / "t.png")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {saved}: ")


def test_run_title_names_kind_and_short_rev() -> None:
    assert Run("lam-0", "b" * 40, "experiment", {}).title == "experiment lam-0 (bbbbbbb)"
    assert Run("workspace", "workspace", "workspace", {}).title == "workspace"


def test_runs_with_the_same_summary_are_one_point(fake: dict[str, str | None]) -> None:
    """An experiment that changed nothing (its summary is the baseline's) joins the baseline's point; the workspace
    joins silently when it is the committed run, and is a point of its own when its results differ."""
    runs, _ = select(runs_of(show_doc())[0], [KEY])
    fake["c" * 40] = fake["a" * 40]
    points = tradeoff.collect(runs, lambda r: fake[r.rev], TASK, 4, [KEY])
    assert [(p.name, p.values) for p in points] == [("lam-0", (0.0,)), ("tradeoff = lam-10", (100.0,))]
    fake["workspace"] = summary_json(31.0, 0.9)
    points = tradeoff.collect(runs, lambda r: fake[r.rev], TASK, 4, [KEY])
    assert [(p.name, p.psnr) for p in points] == [("lam-0", 31.9), ("tradeoff = lam-10", 31.7), ("workspace", 31.0)]


def test_the_reading_says_every_pair_instead_of_listing_them() -> None:
    """Eight runs whose intervals all overlap: one phrase, not 28 pairs (the joint model's factorial sweep)."""
    def point(i: int, pacc: float) -> tradeoff.Point:
        run = Run(name=f"r{i}", rev=f"{i:07d}", kind="experiment", params={KEY: i})
        return tradeoff.Point(run, (i,), 30.0, (29.5, 30.5), pacc, (pacc - 0.02, pacc + 0.02))

    points = [point(i, 0.70 + 0.001 * i) for i in range(3)]
    line = tradeoff.report(points, [True] * 3, [KEY], None).splitlines()[-1]
    assert line.endswith("(not told apart) for every pair of the runs.")
    apart = [*points[:2], point(2, 0.90)]  # the third is told apart from both: the overlapping pair is named
    line = tradeoff.report(apart, [True] * 3, [KEY], None).splitlines()[-1]
    assert line.endswith("(not told apart) for 0 & 1.")

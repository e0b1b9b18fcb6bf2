"""The PSNR–PACC trade-off of a swept loss weight, read from DVC experiments (issue 30.4).

A sweep of one method's weights (``combine.task.lambda_task`` of task-driven SR, its ``lambda_feat``, the joint
model's ``w_sr`` and ``w_fa``) runs as DVC experiments: ``dvc exp run --queue -S key=v1,v2,…`` and
``dvc queue start``. ``python -m srseg.results.tradeoff`` reads them back (:mod:`srseg.results.experiments`:
``dvc exp show --json``, or ``--json FILE`` saved from it): the baseline commit, the workspace when its results
differ from it, and every finished experiment that changes only the swept keys, each with the swept value(s)
(``--param``, repeatable) and, from that revision's ``metrics/summary.json`` (``git show <rev>:…``), the method's
Y-PSNR and PACC at the scale with their 95 % intervals. It prints a table, marks the Pareto front (points no other
point beats or equals in both, higher is better: on point estimates, not on the intervals) and draws Y-PSNR against
PACC with both intervals, the front as a step line and the method's registry baseline as a reference (default
``plots/sweeps/tradeoff.png``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from srseg.errors import SrsegError, first_line
from srseg.methods import registry as methods
from srseg.methods import task_sr
from srseg.methods.base import Method
from srseg.paths import REPO
from srseg.results.experiments import DEFAULT_PARAM, Run, param_value, runs_of, select, show_experiments, summary_text
from srseg.results.figure_style import DPI, STYLE, WIDTH, bar_lengths, save
from srseg.results.schema import Summary, VariantResult
from srseg.results.wording import and_list, table

DEFAULT_OUT = REPO.root / "plots" / "sweeps" / "tradeoff.png"  # outside every stage's outputs


@dataclass(frozen=True)
class Point:
    """A run's variant: its swept ``values`` (one per ``--param``), Y-PSNR (dB) and PACC (fraction) with their
    intervals (the point itself where the summary has none)."""

    run: Run
    values: tuple[Any, ...]
    psnr: float
    psnr_ci: tuple[float, float]
    pacc: float
    pacc_ci: tuple[float, float]
    same_as: tuple[str, ...] = ()  # other runs with the same summary (an experiment that changed nothing)

    @property
    def name(self) -> str:
        return " = ".join((self.run.name, *self.same_as))


def _load(text: str, source: str) -> Summary:
    try:
        return Summary.from_json(json.loads(text), source)
    except json.JSONDecodeError as exc:
        raise SrsegError(f"{source}: not valid JSON ({exc})") from None


def _ci(entry: VariantResult, key: str) -> tuple[float, float]:
    ci = entry.get(f"{key}_ci95")
    return (entry[key], entry[key]) if not ci or None in ci else (float(ci[0]), float(ci[1]))


def point(run: Run, summary: Summary, method: Method, scale: int, keys: Sequence[str]) -> Point:
    """The run's point: SrsegError when its summary lacks the method at the scale, or its Y-PSNR."""
    entry = summary.find_variant(method, scale)
    name = method.variant(scale)
    if entry is None:
        raise SrsegError(f"{run.title}: its {REPO.summary.as_posix()} has no {name} (is {scale} in its "
                         f"{method.scales}? is the method's stage in that revision's pipeline?)")
    if entry.get("psnr_y") is None:
        raise SrsegError(f"{run.title}: {name} has no Y-PSNR in its summary (the method scores no images of its own)")
    return Point(run, tuple(param_value(run, k) for k in keys), float(entry["psnr_y"]), _ci(entry, "psnr_y"),
                 float(entry["pacc"]), _ci(entry, "pacc"))


def pareto(xy: Sequence[tuple[float, float]]) -> list[bool]:
    """Whether each point is on the Pareto front, higher being better in both: no other point is at least as high
    in both and higher in one. Equal points are both on it; a single point is."""
    return [not any(bx >= ax and by >= ay and (bx > ax or by > ay) for bx, by in xy) for ax, ay in xy]


def overlapping(points: Sequence[Point]) -> list[tuple[int, int]]:
    """The pairs (i < j) whose intervals overlap on both axes: their intervals do not tell them apart."""
    def meet(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[1] and b[0] <= a[1]
    return [(i, j) for i, p in enumerate(points) for j, q in enumerate(points)
            if i < j and meet(p.psnr_ci, q.psnr_ci) and meet(p.pacc_ci, q.pacc_ci)]


def value_label(values: Sequence[Any], keys: Sequence[str]) -> str:
    """The swept value(s): ``10``; ``w_sr=1, w_fa=0`` for several keys."""
    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return str(v).lower()
        return f"{v:g}" if isinstance(v, int | float) else str(v)
    if len(keys) == 1:
        return fmt(values[0])
    return ", ".join(f"{k.rpartition('.')[2]}={fmt(v)}" for k, v in zip(keys, values, strict=True))


def collect(runs: Sequence[Run], read: Any, method: Method, scale: int, keys: Sequence[str]) -> list[Point]:
    """Every run's point, sorted by swept value; ``read(run)`` gives its summary.json text (None: none there). A
    run whose summary is the same as an earlier one's (the workspace of a committed run, an experiment that changed
    nothing) is kept once; a baseline commit or workspace without a summary is left out, an experiment without one
    is an error."""
    points: list[Point] = []
    seen: dict[str, int] = {}
    for run in runs:
        text = read(run)
        if text is None:
            if run.kind == "experiment":
                raise SrsegError(f"{run.title}: no {REPO.summary.as_posix()} in that revision")
            continue
        if text in seen:
            if run.kind != "workspace":
                first = points[seen[text]]
                points[seen[text]] = replace(first, same_as=(*first.same_as, run.name))
            continue
        seen[text] = len(points)
        summary = _load(text, f"{run.title}: {REPO.summary.as_posix()}")
        points.append(point(run, summary, method, scale, keys))
    return sorted(points, key=lambda p: ([(not isinstance(v, int | float), v if isinstance(v, int | float) else str(v))
                                          for v in p.values], p.name))


def reference(runs: Sequence[Run], read: Any, method: Method, scale: int) -> VariantResult | None:
    """The method's registry baseline at the scale, from the first run whose summary has it (None without)."""
    if not method.baseline:
        return None
    base = methods.get(method.baseline)
    for run in runs:
        text = read(run)
        if text is not None:
            found = _load(text, f"{run.title}: {REPO.summary.as_posix()}").find_variant(base, scale)
            if found is not None:
                return found
    return None


def _fmt(v: float, ci: tuple[float, float], factor: float = 1.0) -> str:
    return f"{v * factor:.2f} [{ci[0] * factor:.2f}, {ci[1] * factor:.2f}]"


def report(points: Sequence[Point], front: Sequence[bool], keys: Sequence[str], ref: VariantResult | None) -> str:
    """The table (value, Y-PSNR and PACC with their intervals, on the front) and the line about the front."""
    rows = [[p.name, value_label(p.values, keys), _fmt(p.psnr, p.psnr_ci), _fmt(p.pacc, p.pacc_ci, 100),
             "yes" if f else "no"] for p, f in zip(points, front, strict=True)]
    if ref is not None:
        psnr = "—" if ref.get("psnr_y") is None else _fmt(ref["psnr_y"], _ci(ref, "psnr_y"))
        rows.append([f"reference: {ref.label}", "—", psnr, _fmt(ref["pacc"], _ci(ref, "pacc"), 100), "—"])
    header = ["run", " / ".join(keys), "Y-PSNR, dB [95 % CI]", "PACC, % [95 % CI]", "Pareto front"]
    apart = overlapping(points)
    pairs = [f"{value_label(points[i].values, keys)} & {value_label(points[j].values, keys)}" for i, j in apart]
    everyone = len(points) > 2 and len(apart) == len(points) * (len(points) - 1) // 2
    line = ("The front is on point estimates; intervals overlap on both axes (not told apart) for "
            + ("every pair of the runs" if everyone else and_list(pairs) if pairs else "no pair of points") + ".")
    return table(header, rows, "llrrl") + "\n\n" + line


def _limits(values: Sequence[float], least: float) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = max(0.08 * (hi - lo), least)
    return lo - pad, hi + pad


def figure(points: Sequence[Point], front: Sequence[bool], keys: Sequence[str], method: Method, scale: int,
           ref: VariantResult | None) -> Figure:
    """Y-PSNR (x) against PACC (y) of every point with both 95 % intervals, labelled by its swept value(s); the
    Pareto front (filled points, a step line), the others hollow; the baseline as a reference point (a line where
    it has no Y-PSNR). Axes fitted to the data."""
    colour = method.colour
    xs_all = [v for p in points for v in (p.psnr, *p.psnr_ci)]
    ys_all = [v * 100 for p in points for v in (p.pacc, *p.pacc_ci)]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 4.8), dpi=DPI, layout="constrained")
        ax = fig.subplots()
        if ref is not None:
            base = ref.method
            y, (ylo, yhi) = ref["pacc"] * 100, (v * 100 for v in _ci(ref, "pacc"))
            if ref.get("psnr_y") is None:
                ax.axhline(y, color=base.colour, ls="--", lw=1.2, label=f"{ref.label} (baseline; no Y-PSNR)")
                ax.axhspan(ylo, yhi, color=base.colour, alpha=0.08, lw=0)
            else:
                x = ref["psnr_y"]
                ax.errorbar([x], [y], xerr=bar_lengths(x, *_ci(ref, "psnr_y")), yerr=bar_lengths(y, ylo, yhi),
                            fmt=base.marker, color=base.colour, capsize=3, elinewidth=1.1, markersize=8,
                            label=f"{ref.label} (baseline)")
                xs_all += [x, *_ci(ref, "psnr_y")]
            ys_all += [y, ylo, yhi]
        on = [p for p, f in zip(points, front, strict=True) if f]
        for p, f in zip(points, front, strict=True):
            x, y = p.psnr, p.pacc * 100
            bars = ax.errorbar([x], [y], xerr=bar_lengths(x, *p.psnr_ci),
                               yerr=bar_lengths(y, *(v * 100 for v in p.pacc_ci)), fmt="o", color=colour,
                               mfc=colour if f else "white", capsize=3, elinewidth=1.0, markersize=7, zorder=3)
            for part in (*bars[1], *bars[2]):  # caps and bars lighter than the points and the front
                part.set_alpha(0.5)
            ax.annotate(value_label(p.values, keys), (x, y), textcoords="offset points", xytext=(6, 5), fontsize=8.5,
                        color="black", fontweight="bold" if f else "normal",
                        bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.8})
        line = sorted((p.psnr, p.pacc * 100) for p in on)
        ax.step([x for x, _ in line], [y for _, y in line], where="pre", color="0.15", ls="--", lw=1.5, zorder=4,
                label="Pareto front (on point estimates; filled)")
        ax.plot([], [], "o", color=colour, mfc="white", label="dominated (hollow)")
        ax.set_xlim(*_limits(xs_all, 0.05))
        ax.set_ylim(*_limits(ys_all, 0.1))
        ax.set_xlabel("Y-PSNR (dB)")
        ax.set_ylabel("pixel accuracy, PACC (%)")
        ax.legend(loc="best", fontsize=8, frameon=True, framealpha=0.85)
        ax.set_title(f"{method.label_at(scale)}: Y-PSNR against PACC over {' / '.join(keys)}\n"
                     "(one run per point; bars: 95 % intervals, two-level bootstrap)", fontsize=10.5, fontweight="bold")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srseg.results.tradeoff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default=task_sr.METHOD.name, help="the swept method (default %(default)s)")
    parser.add_argument("--scale", type=int, default=4, help="its scale (default %(default)s)")
    parser.add_argument("--param", action="append", metavar="KEY",
                        help=f"a swept params key that labels the points, repeatable (default {DEFAULT_PARAM})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the figure (default %(default)s)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="a saved `dvc exp show --json` instead of running it")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: here)")
    args = parser.parse_args(argv)
    keys = args.param or [DEFAULT_PARAM]
    try:
        method = methods.get(args.method)
        if args.json is not None:
            try:
                doc = json.loads(args.json.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise SrsegError(f"{args.json}: {first_line(exc)}") from None
        else:
            doc = show_experiments(args.repo)
        runs, notes = runs_of(doc)
        runs, left_out = select(runs, keys)
        for note in (*notes, *left_out):
            print(note, file=sys.stderr)
        cache: dict[str, str | None] = {}

        def read(run: Run) -> str | None:
            if run.rev not in cache:
                cache[run.rev] = summary_text(args.repo, run)
            return cache[run.rev]

        points = collect(runs, read, method, args.scale, keys)
        ref = reference(runs, read, method, args.scale)
        front = pareto([(p.psnr, p.pacc) for p in points])
        print(report(points, front, keys, ref))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save(figure(points, front, keys, method, args.scale, ref), args.out)
    except SrsegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

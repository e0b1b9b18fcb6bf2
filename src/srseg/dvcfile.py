"""``dvc.yaml``, rendered from the base stages below and the method registry (:mod:`srseg.methods.registry`).

``python -m srseg.dvcfile`` rewrites ``dvc.yaml``; ``--check`` only says whether it is up to date (the tests do). DVC
never runs this: ``dvc repro`` reads the committed file, so a new method is its module, its place in the registry
and one run of this command.

Each kind of stage is written once: one evaluation template serves every method (its images and segmenter come from
the registry), one training template every method that trains a model (``stages/train.py --method``), and no stage
lists source files. The ``code`` stage writes one fingerprint per kind of stage instead
(``data/code/<kind>.json``, :mod:`srseg.codegraph`: every source file its entry files can import, with its SHA-256),
and each stage depends on its kind's, so editing a module re-runs exactly the stages that import it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from srseg.methods.base import Method
from srseg.methods.registry import HR, METHODS, swept, trained
from srseg.methods.registry import load_params as registry_load_params
from srseg.params import Params
from srseg.paths import Paths

#: The matrix placeholders paths are rendered with.
SCALE, SEED = "${item.scale}", "${item.seed}"
#: Where the code stage writes its fingerprints.
CODE = Path("data", "code")
P = Paths()
RUNTIME = ("runtime.threads", "runtime.cpu_kernels")
EVAL_PARAMS = ("seg.eval", "objects", *RUNTIME)
DVCLIVE_PLOT = "{cache: false, x: step, x_label: epoch (DVCLive step)}"


@dataclass
class Stage:
    """One stage definition of ``dvc.yaml`` (a matrix when ``matrix`` is set)."""

    name: str
    cmd: str
    kind: str  # its code fingerprint: data/code/<kind>.json
    entries: tuple[str, ...]  # the files whose import closure is its code
    deps: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    uncached: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    matrix: dict[str, str] | None = None
    comment: str = ""


def _s(paths: Iterable[Path | str]) -> list[str]:
    return [Path(p).as_posix() for p in paths]


def base_stages() -> list[Stage]:
    """The stages of the 2019 study's chain, before any method: params, data, degradation, SR, HR segmentation."""
    sr_log, seg_log = P.train_log(f"sr_x{SCALE}", SEED), P.train_log("seg_hr", SEED)
    both = {"scale": "${scales}", "seed": "${seeds}"}
    return [
        Stage("check_params", "python stages/check_params.py", "check_params", ("stages/check_params.py",),
              deps=["params.yaml"], outs=_s([P.params_ok]),
              comment="first: a bad params.yaml fails here, before DVC deletes any other stage's outputs"),
        Stage("download", "python stages/download.py", "download", ("stages/download.py",),
              deps=_s([P.params_ok]), params=["seed", "scales", "data"], outs=_s([P.raw]),
              uncached=_s([P.data_metrics])),
        Stage("degrade", f"python stages/degrade.py --scale {SCALE}", "degrade", ("stages/degrade.py",),
              matrix={"scale": "${scales}"}, deps=_s([P.raw]), outs=_s([P.lr(SCALE), P.bicubic(SCALE)]),
              uncached=_s([P.image_quality(f"bicubic_x{SCALE}", None)])),
        Stage("pretrain_sr", f"python stages/pretrain_sr.py --scale {SCALE} --seed {SEED}", "pretrain_sr",
              ("stages/pretrain_sr.py",), matrix=both, deps=_s([P.params_ok]),
              params=["sr.preset", "sr.upsampler", "sr.init", "sr.release_checkpoints", "sr.pretrain",
                      "runtime.threads", "runtime.cpu_kernels", "runtime.distribute", "runtime.precision.sr"],
              outs=_s([P.sr_model(SCALE, SEED)]), uncached=_s([sr_log / "metrics.json"]),
              plots=_s([sr_log / "plots"])),
        Stage("super_resolve", f"python stages/super_resolve.py --scale {SCALE} --seed {SEED}", "super_resolve",
              ("stages/super_resolve.py",), matrix=both, deps=_s([P.sr_model(SCALE, SEED), P.raw, P.lr(SCALE)]),
              params=["sr.tile", "sr.tile_overlap", "sr.self_ensemble", "seg.retrain_scales", *RUNTIME],
              outs=_s([P.sr(SCALE, SEED)]), uncached=_s([P.image_quality(f"sr_x{SCALE}", SEED)])),
        Stage("train_seg", f"python stages/train_seg.py --seed {SEED}", "train_seg", ("stages/train_seg.py",),
              matrix={"seed": "${seeds}"}, deps=_s([P.raw]),
              params=["seg.preset", "seg.weights", "seg.aux_weight", "seg.dropout", "seg.train",
                      "runtime.threads", "runtime.cpu_kernels", "runtime.distribute", "runtime.precision.seg"],
              outs=_s([P.seg_model("hr", SEED)]), uncached=_s([seg_log / "metrics.json"]),
              plots=_s([seg_log / "plots"])),
    ]


def _matrix(m: Method) -> dict[str, str]:
    return {"seed": "${seeds}"} if m.scales is None else {"scale": "${" + m.scales + "}", "seed": "${seeds}"}


def training_stage(m: Method) -> Stage:
    """The stage that trains method ``m``'s model: ``stages/train.py --method <name>`` over its scales (none for a
    scale-free method) and seeds."""
    spec = m.train
    assert spec is not None
    scale = None if m.scales is None else SCALE
    out = spec.outs(P, scale, SEED)
    cmd = f"python stages/train.py --method {m.name}" + ("" if scale is None else f" --scale {scale}")
    return Stage(m.stage, f"{cmd} --seed {SEED}", m.stage, ("stages/train.py", f"src/srseg/methods/{m.name}.py"),
                 matrix=_matrix(m), deps=_s(spec.deps(P, scale, SEED)), params=list(spec.reads), outs=_s(out.outs),
                 uncached=_s(out.uncached), plots=_s(out.plots))


def evaluation_stage(m: Method) -> Stage:
    """``evaluate_<name>``: the method's segmenter on its val images, for each of its scales and seeds."""
    scale = None if m.scales is None else SCALE
    v, images, model = m.variant(scale), m.image_root(P, scale, SEED), m.model_path(P, scale, SEED)
    cmd = (f"python stages/evaluate.py --variant {v} --images {images.as_posix()} --model {model.as_posix()} "
           f"--seed {SEED}")
    if m.images == "lr":
        cmd += f" --input-scale {SCALE}"
    return Stage(m.eval_stage, cmd, "evaluate", ("stages/evaluate.py",), matrix=_matrix(m),
                 deps=_s(dict.fromkeys([P.raw, images, model])), params=list(EVAL_PARAMS),
                 outs=_s([P.predictions(v, SEED)]), uncached=_s([P.seg_metrics(v, SEED), P.seg_per_image(v, SEED)]))


def sweep_models() -> list[tuple[str, Path]]:
    """The segmenters the degradation sweep evaluates: the HR-trained PSPNet and each sweep method's (name, model)."""
    return [(HR.segmenter, HR.model_path(P, None, SEED))] + [(m.segmenter, m.model_path(P, None, SEED))
                                                             for m in swept()]


def cliff_stages() -> list[Stage]:
    """The degradation sweep (issue 29.5): its val sets, one folder per factor, and every sweep segmenter on them
    (and the sweep methods' on the SR images of its integer factors; the HR-trained PSPNet's are ``evaluate_sr``'s)."""
    models = sweep_models()
    cmd = f"python stages/evaluate_cliff.py --seed {SEED}" + "".join(f" --model {n}={p.as_posix()}" for n, p in models)
    cmd += "".join(f" --on-sr {m.segmenter}" for m in swept())
    return [
        Stage("cliff_degrade", "python stages/cliff_degrade.py", "cliff_degrade", ("stages/cliff_degrade.py",),
              deps=_s([P.raw]), params=["cliff.factors"], outs=_s([P.cliff_root])),
        Stage("evaluate_cliff", cmd, "evaluate_cliff", ("stages/evaluate_cliff.py",), matrix={"seed": "${seeds}"},
              deps=_s([P.raw, P.cliff_root, *([P.sr_root(SEED)] if swept() else []), *(p for _, p in models)]),
              params=["cliff.factors", "scales", "seg.eval", *RUNTIME],
              uncached=_s([P.cliff_metrics_root / f"seed{SEED}"])),
    ]


def result_stages() -> list[Stage]:
    """The summary (statistics of every comparison) and the figures and report."""
    return [
        Stage("summarize", "python stages/summarize.py", "summarize", ("stages/summarize.py",),
              deps=["metrics/sr", "metrics/seg", P.cliff_metrics_root.as_posix()],
              params=["scales", "seeds", "seg.retrain_scales", "combine.scales", *RUNTIME, "objects", "stats",
                      "data.source", "cliff.factors"],
              uncached=_s([P.summary, P.headline, P.series])),
        Stage("plots", "python stages/plots.py", "plots", ("stages/plots.py",),
              deps=_s([P.summary, P.series, P.raw, "data/bicubic", "data/sr", "data/pred"]),
              params=["seed", "seeds", "scales", "runtime", "data", "sr", "seg", "combine", "objects", "stats",
                      "plots", "cliff"], uncached=_s([P.figures, P.report]),
              comment="report.md lists the run's settings, so it reads all of them"),
    ]


def stages() -> list[Stage]:
    """Every stage definition but ``code``, in pipeline order."""
    return [*base_stages(), *map(training_stage, trained()), *map(evaluation_stage, METHODS.values()),
            *cliff_stages(), *result_stages()]


def required_params() -> list[str]:
    """Every params key that dvc.yaml reads, in order of first use: each stage's ``params:`` list and each
    ``${...}`` it interpolates (the matrix variables ``scales``, ``seeds``, ``seg.retrain_scales``,
    ``combine.scales``; ``${item.*}`` are the matrix's own)."""
    keys: dict[str, None] = {}
    for st in stages():
        texts = [*(st.matrix or {}).values(), st.cmd, *st.deps, *st.outs, *st.uncached, *st.plots]
        for var in re.findall(r"\$\{\s*([^}\s]+)\s*\}", " ".join(texts)):
            if not var.startswith("item."):
                keys.setdefault(var)
        keys.update(dict.fromkeys(st.params))
    return list(keys)


def load_params(path: str | Path = "params.yaml") -> Params:
    """The check of the ``check_params`` stage and ``srseg check-params``: :func:`srseg.methods.registry.load_params`
    with every key of :func:`required_params` present in the file itself (DVC reads them there, without srseg's
    defaults: an empty params.yaml, or one without ``combine:``, would otherwise pass here and fail in DVC)."""
    return registry_load_params(path, required=required_params())


def code_kinds() -> dict[str, tuple[str, ...]]:
    """Each kind of stage and the entry files of its code (what :mod:`srseg.codegraph` fingerprints)."""
    kinds: dict[str, tuple[str, ...]] = {}
    for st in stages():
        assert kinds.get(st.kind, st.entries) == st.entries, st.kind
        kinds[st.kind] = st.entries
    return kinds


# --- rendering -----------------------------------------------------------------------------------------------------

HEADER = """\
# The study as a DVC pipeline, rendered from srseg.dvcfile (the base stages) and srseg.methods (one module per
# compared method): `python -m srseg.dvcfile` rewrites this file after a change there; tests/test_dvcfile.py checks it
# is up to date. Paths follow srseg.paths; each stage's params are exactly the keys it reads. No stage lists source
# files: `code` writes one fingerprint per kind of stage (data/code/<kind>.json: every source file its script can
# import, with its SHA-256; srseg.codegraph), and each stage depends on its kind's, so editing a module re-runs
# exactly the stages that import it. Per-scale and per-seed stages are matrices over `scales`, `seeds`,
# `seg.retrain_scales` or `combine.scales`: `dvc repro degrade@4` runs one scale, `dvc repro evaluate_sr@4-0` one
# evaluation. Every registered method has an `evaluate_<method>` stage, and one that trains a model its stage.
"""

TAIL = """\
# `dvc metrics show` / `dvc metrics diff` / `dvc exp show`: the headline numbers only (HR's scores; every method's
# difference from its baseline with its 95 % interval, keyed by variant: sr_x4.miou_pp, _lo, _hi). Everything else:
# `dvc metrics diff --targets metrics/summary.json`.
metrics:
  - metrics/headline.json

# `dvc plots show` / `dvc plots diff HEAD~1`: the study's series (from the summarize stage) and figures (plots stage).
# The DVCLive training curves are declared on their stages above, because only stage matrices iterate over `scales`.
plots:
  - psnr_vs_scale:
      template: scale_lines   # .dvc/plots/scale_lines.json: colour = series, dash = revision
      x: scale
      y: {plots/series/scales.csv: [psnr_bicubic, psnr_sr]}
      title: "Graph 1: Y-PSNR of bicubic and SR vs scale"
      x_label: downscaling factor
      y_label: Y-PSNR (dB)
  - ssim_vs_scale:
      template: scale_lines
      x: scale
      y: {plots/series/scales.csv: [ssim_bicubic, ssim_sr]}
      title: "Graph 1b: Y-SSIM of bicubic and SR vs scale"
      x_label: downscaling factor
      y_label: Y-SSIM
  - pacc_vs_scale:
      template: scale_lines
      x: scale
      y: {plots/series/scales.csv: [pacc_hr, pacc_bicubic, pacc_sr]}
      title: "Graph 2: pixel accuracy on HR, bicubic LR and SR vs scale"
      x_label: downscaling factor
      y_label: pixel accuracy (fraction)
  - miou_vs_scale:
      template: scale_lines
      x: scale
      y: {plots/series/scales.csv: [miou_hr, miou_bicubic, miou_sr]}
      title: "Graph 2b: mean IoU on HR, bicubic LR and SR vs scale"
      x_label: downscaling factor
      y_label: mean IoU (fraction)
  - pacc_gain:
      template: scale_lines
      x: scale
      y: {plots/series/scales.csv: [pacc_gain_pct, miou_gain_pct]}
      title: "Graph 3: relative gain of SR over bicubic (below 0: SR is worse)"
      x_label: downscaling factor
      y_label: gain over bicubic (%)
  - class_iou_delta:
      template: iou_delta_heatmap    # .dvc/plots/iou_delta_heatmap.json (colour = delta, blank = null)
      x: scale
      y: {plots/series/class_iou_delta.csv: class}
      title: "Per-class IoU change, SR - bicubic"
      x_label: downscaling factor
      y_label: class
  - retrain_pacc:
      template: dot_interval  # .dvc/plots/dot_interval.json: a point and its 95 % interval; colour = revision
      x: pacc
      y: {plots/series/retrain.csv: label}
      title: "Retraining on SR images (book 18): pixel accuracy, 95 % intervals"
      x_label: pixel accuracy (fraction)
      y_label: model and val set
  - retrain_miou:
      template: dot_interval
      x: miou
      y: {plots/series/retrain.csv: label}
      title: "Retraining on SR images (book 18): mean IoU, 95 % intervals"
      x_label: mean IoU (fraction)
      y_label: model and val set
{cliff}
  - plots/figures    # the PNGs of the plots stage, shown as images
"""


def cliff_plots() -> str:
    """The ``plots:`` entries of the degradation sweep (``plots/series/cliff.csv``, x = factor): a line per
    segmenter and input (:func:`srseg.results.cliff.line_keys`' columns)."""
    from srseg.results.cliff import CLIFF_CSV, line_keys

    csv = (P.series / CLIFF_CSV).as_posix()
    out = []
    for key, label in (("pacc", "pixel accuracy"), ("miou", "mean IoU")):
        cols = ", ".join(f"{key}_{k}" for k in line_keys())
        out += [f"  - {key}_vs_factor:", "      template: scale_lines", "      x: factor",
                f"      y: {{{csv}: [{cols}]}}",
                f'      title: "The ×3 cliff: {label} vs degradation factor (1: HR images)"',
                "      x_label: degradation factor (bicubic down and up)", f"      y_label: {label} (fraction)"]
    return "\n".join(out)


def artifacts(params: Params) -> list[tuple[str, Path, str]]:
    """``(name, path, description)`` of the trained models of the default params' first seed, for
    ``dvc artifacts get`` (the base models, then each trained method's at each of its scales)."""
    k = params.seeds[0]
    out = [(f"sr-x{s}", P.sr_model(s, k), f"DCSCN x{s}, pretrained on the SR photos (pretrain_sr@{s}-{k})")
           for s in params.scales]
    out.append(("seg-hr", P.seg_model("hr", k), f"PSPNet trained on HR images (train_seg@{k})"))
    for m in trained():
        assert m.train is not None
        if m.scales is None:
            out.append((m.train.artifact or m.name.replace("_", "-"), m.train.outs(P, None, k).outs[0],
                        f"{m.segmenter_label} ({m.stage}@{k})"))
        for s in m.scale_list(params):
            name = f"{m.train.artifact or m.name.replace('_', '-')}-x{s}"
            out.append((name, m.train.outs(P, s, k).outs[0], f"{m.label_at(s)} ({m.stage}@{s}-{k})"))
    return out


def _flow(items: Iterable[str], indent: int, width: int = 118) -> str:
    """A flow sequence, wrapped at ``width`` with continuation lines at ``indent``."""
    lines, line = [], "["
    for i, item in enumerate(items):
        piece = item + ("" if i == len(list(items)) - 1 else ",")
        if len(line) + len(piece) + indent > width and line != "[":
            lines.append(line.rstrip())
            line = " " * indent
        line += piece + " "
    return ("\n").join(lines + [line.rstrip() + "]"])


def render_stage(st: Stage) -> list[str]:
    lines = [f"  {st.name}:" + (f"  # {st.comment}" if st.comment else "")]
    if st.matrix:
        lines.append("    matrix: {" + ", ".join(f"{k}: '{v}'" for k, v in st.matrix.items()) + "}")
    lines.append(f"    cmd: {st.cmd}")
    lines.append("    deps:")
    lines += [f"      - {d}" for d in [(CODE / f"{st.kind}.json").as_posix(), *st.deps]]
    if st.params:
        lines.append(f"    params: {_flow(st.params, 13)}")
    if st.outs or st.uncached:
        lines.append("    outs:")
        lines += [f"      - {o}" for o in st.outs] + [f"      - {o}: {{cache: false}}" for o in st.uncached]
    if st.plots:
        lines.append("    plots:")
        lines += [f"      - {p}: {DVCLIVE_PLOT}" for p in st.plots]
    return lines


def render(params: Params | None = None) -> str:
    """The text of ``dvc.yaml``."""
    params = params or Params()
    lines = [HEADER.rstrip("\n"), "stages:",
             "  code:  # the fingerprint of each kind of stage's source files (srseg.codegraph)",
             "    cmd: python stages/code.py", "    deps:", "      - stages", "      - src/srseg",
             "    outs:", f"      - {CODE.as_posix()}"]
    for st in stages():
        lines += [""] + render_stage(st)
    lines += ["", TAIL.replace("{cliff}", cliff_plots()).rstrip("\n"), "",
              "# Trained models of the default params (first seed), by name: `dvc artifacts get <repo url> <name>`",
              "# (README, \"Use the trained models\"). Each file carries its training record (srseg.provenance).",
              "artifacts:"]
    lines += [f"  {name}: {{path: {path.as_posix()}, type: model, desc: \"{desc}\"}}"
              for name, path, desc in artifacts(params)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render dvc.yaml from srseg's base stages and method registry.")
    parser.add_argument("--check", action="store_true", help="only say whether dvc.yaml is up to date (exit 1 if not)")
    parser.add_argument("--path", type=Path, default=Path("dvc.yaml"))
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.path.is_file() or args.path.read_text(encoding="utf-8") != text:
            print(f"{args.path}: out of date; run python -m srseg.dvcfile", file=sys.stderr)
            return 1
        print(f"{args.path}: up to date")
        return 0
    args.path.write_text(text, encoding="utf-8")
    print(f"{args.path}: written ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

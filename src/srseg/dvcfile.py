"""``dvc.yaml``, rendered from the base stages below and the method registry (:mod:`srseg.methods.registry`).

``python -m srseg.dvcfile`` rewrites ``dvc.yaml``; ``--check`` only says whether it is up to date (the tests do). DVC
never runs this: ``dvc repro`` reads the committed file, so a new method is its module, its place in the registry
and one run of this command.

Each kind of stage is written once: one evaluation template serves every method (its images and segmenter come from
the registry), one training template every method that trains a model (``stages/train.py --method``), and no stage
lists source files. The ``code`` stage writes one fingerprint per kind of stage instead
(``data/code/<kind>.json``, :mod:`srseg.codegraph`: every source file its entry files can import, with its SHA-256),
and each stage depends on its kind's, so editing a module re-runs exactly the stages that import it.

Every output but those of ``code`` and ``check_params`` is ``persist: true``. Otherwise DVC deletes a stage's
outputs before it runs the stage, and one that then fails (a truncated image, out of memory, a kill) leaves none:
the uncached ones (``report.md``, the figures, metrics) lost, the cached ones back only through ``dvc checkout``.
Persisted, each stays until its stage replaces it in one rename on success (:func:`srseg.io.atomic_dir`), matching
``dvc.lock`` until then. DVC's run cache skips a stage with a persisted output; it already skipped every stage with
an uncached output that is no metric or plot, which is every stage but those two. ``check_params``' marker is
deleted on purpose: while ``params.yaml`` is bad, every stage below it shows as changed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srseg.errors import ParamsError, SrsegError
from srseg.methods.base import Method
from srseg.methods.registry import HR, METHODS, swept, trained
from srseg.methods.registry import load_params as registry_load_params
from srseg.params import Params, read_params
from srseg.paths import Paths
from srseg.results.curves import plot_definitions

#: The matrix placeholders paths are rendered with.
SCALE, SEED = "${item.scale}", "${item.seed}"
#: Where the code stage writes its fingerprints.
CODE = Path("data", "code")
P = Paths()
#: Every training stage's DVCLive folder is under it (summarize gathers their curves, srseg.results.curves).
TRAIN_LOGS = P.train_log("run", 0).parent.parent
RUNTIME = ("runtime.threads", "runtime.cpu_kernels")
EVAL_PARAMS = ("seg.eval", "objects", *RUNTIME)


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
    plots: list[str] = field(default_factory=list)  # DVCLive folders: uncached outs, drawn by the train_* plots
    matrix: dict[str, str] | None = None
    comment: str = ""
    persist: bool = True  # DVC leaves its outputs in place until the stage replaces them (module docstring)


def _s(paths: Iterable[Path | str]) -> list[str]:
    return [Path(p).as_posix() for p in paths]


def base_stages() -> list[Stage]:
    """The stages of the 2019 study's chain, before any method: params, data, degradation, SR, HR segmentation."""
    sr_log, seg_log = P.train_log(f"sr_x{SCALE}", SEED), P.train_log("seg_hr", SEED)
    both = {"scale": "${scales}", "seed": "${seeds}"}
    return [
        Stage("check_params", "python stages/check_params.py", "check_params", ("stages/check_params.py",),
              deps=["params.yaml"], outs=_s([P.params_ok]), persist=False,
              comment="first: a bad params.yaml fails here, before any other stage runs"),
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
              deps=["metrics/sr", "metrics/seg", TRAIN_LOGS.as_posix(), P.cliff_metrics_root.as_posix()],
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


def matrix_params() -> dict[str, list[str]]:
    """Each params key that a stage matrix expands (``scales``, ``seeds``, …) and the stages it expands."""
    keys: dict[str, list[str]] = {}
    for st in stages():
        for value in (st.matrix or {}).values():
            keys.setdefault(value.removeprefix("${").removesuffix("}"), []).append(st.name)
    return keys


def _list_rule(key: str) -> str:
    """What the list ``key`` of :func:`matrix_params` may hold (:class:`srseg.params.Params` checks it in full)."""
    rules = {"scales": "distinct integers >= 2", "seeds": "distinct integers >= 0"}
    return rules.get(key, "distinct integers out of scales")


def check_matrix_lists(raw: Mapping[str, Any] | None, source: str = "params.yaml") -> None:
    """Refuse, naming the key, a matrix variable that is not a list, or a section above one that is no mapping.

    DVC expands these while it parses ``dvc.yaml``, before any stage runs: it stops there, deleting nothing, but with
    its own words ("'Value' object is not iterable", "Could not find 'scales'"), so ``srseg check-params`` says it
    in one line. A key left out is :func:`srseg.params.check_present`'s.
    """
    if not raw:
        return
    example = Params()
    for key, names in matrix_params().items():
        node: Any = raw
        value: Any = example
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, Mapping):
                raise ParamsError(f"{source}: {'.'.join(parts[:i])}: must be a mapping of keys to values, as in the "
                                  f"default params.yaml (got {node!r})")
            if part not in node:
                break
            node, value = node[part], getattr(value, part)
        else:
            if not isinstance(node, list):
                raise ParamsError(f"{source}: {key}: must be a list of {_list_rule(key)}, e.g. {value}: dvc.yaml "
                                  f"runs {names[0]} and {len(names) - 1} more stages once per item (got {node!r})")


def load_params(path: str | Path = "params.yaml") -> Params:
    """The check of the ``check_params`` stage and ``srseg check-params``: :func:`srseg.methods.registry.load_params`
    with every key of :func:`required_params` present in the file itself (DVC reads them there, without srseg's
    defaults: an empty params.yaml, or one without ``combine:``, would otherwise pass here and fail in DVC), after
    :func:`check_matrix_lists` (what DVC itself refuses, in its own words, before any stage runs)."""
    check_matrix_lists(read_params(path), str(path))
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
# Outputs are `persist: true` (but code's and check_params'): DVC leaves them in place, and each stage replaces them
# in one rename when it succeeds, so a stage that fails leaves the last good outputs, as dvc.lock records them.
"""

TAIL = """\
# `dvc metrics show` / `dvc metrics diff` / `dvc exp show`: the headline numbers only, in percent (HR's scores; every
# method's PACC difference from its baseline in pp with its 95 % interval and verdict, keyed by variant:
# sr_x4.pacc_pp, _lower, _upper, verdict). README: the `dvc exp show` lines that fit 120 columns. Everything else:
# `dvc metrics diff --targets metrics/summary.json`.
metrics:
  - metrics/headline.json

# `dvc plots show` / `dvc plots diff HEAD~1`: the study's series (from the summarize stage), the figures (plots stage)
# and the training curves, one chart per kind of training and metric with every run (the summarize stage gathers them
# from the DVCLive folders metrics/train/seed<k>/<run>/plots; `dvc plots show <file>` draws any one file there).
# The page renders offline (.dvc/config: plots.html_template).
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
      y: {plots/series/scales.csv: [pacc_gain_pp, miou_gain_pp]}
      title: "Graph 3: gain of SR over bicubic, SR - bicubic (below 0: SR is worse)"
      x_label: downscaling factor
      y_label: SR - bicubic (percentage points)
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
    ``dvc artifacts get`` (the base models, then each trained method's at each of its scales: its first output, and
    the segmenter it trains beside it, if any, as ``seg-<method>-x<s>``)."""
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
            outs = m.train.outs(P, s, k).outs
            out.append((name, outs[0], f"{m.label_at(s)} ({m.stage}@{s}-{k})"))
            seg = m.model_path(P, s, k)
            if seg != outs[0] and seg in outs:  # a stage that trains its SR model and its segmenter (jointed)
                out.append((f"seg-{m.name.replace('_', '-')}-x{s}", seg,
                            f"{m.label_at(s)}: its segmenter ({m.stage}@{s}-{k})"))
    return out


def _flow_item(item: str) -> str:
    """``item`` as a flow-sequence entry: single-quoted where it holds a flow indicator (``${item.scale}``)."""
    return f"'{item}'" if any(c in item for c in ",[]{}#'") else item


def _flow(items: Iterable[str], indent: int, width: int = 118) -> str:
    """A flow sequence, wrapped at ``width`` with continuation lines at ``indent``."""
    items = [_flow_item(i) for i in items]
    lines, line = [], "["
    for i, item in enumerate(items):
        piece = item + ("" if i == len(items) - 1 else ",")
        if len(line) + len(piece) + indent > width and line != "[":
            lines.append(line.rstrip())
            line = " " * indent
        line += piece + " "
    return ("\n").join(lines + [line.rstrip() + "]"])


def _out(path: str, *flags: str) -> str:
    return f"      - {path}" + (f": {{{', '.join(flags)}}}" if flags else "")


def render_stage(st: Stage) -> list[str]:
    """The lines of one stage of ``dvc.yaml``."""
    persist = ("persist: true",) if st.persist else ()
    lines = [f"  {st.name}:" + (f"  # {st.comment}" if st.comment else "")]
    if st.matrix:
        lines.append("    matrix: {" + ", ".join(f"{k}: '{v}'" for k, v in st.matrix.items()) + "}")
    lines.append(f"    cmd: {st.cmd}")
    lines.append(f"    deps: {_flow([(CODE / f'{st.kind}.json').as_posix(), *st.deps], 11)}")
    if st.params:
        lines.append(f"    params: {_flow(st.params, 13)}")
    if st.outs or st.uncached or st.plots:
        lines.append("    outs:")
        lines += [_out(o, *persist) for o in st.outs]
        lines += [_out(o, "cache: false", *persist) for o in st.uncached + st.plots]
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
    lines += ["", TAIL.replace("{cliff}", cliff_plots()).rstrip("\n"), *plot_definitions(P.series), "",
              "# Trained models of the default params (first seed), by name: `dvc artifacts get <repo url> <name>`",
              "# (README, \"Use the trained models\"). Each file carries its training record (srseg.provenance).",
              "artifacts:"]
    lines += [f"  {name}: {{path: {path.as_posix()}, type: model, desc: \"{desc}\"}}"
              for name, path, desc in artifacts(params)]
    return "\n".join(lines) + "\n"


#: The page ``dvc plots show`` / ``dvc plots diff`` fill (``.dvc/config``: ``plots.html_template``, a path under .dvc/).
HTML_TEMPLATE = Path(".dvc", "plots", "offline.html")
#: The Vega-Lite version inlined there: DVC's templates and srseg's (.dvc/plots/*.json) are Vega-Lite 5 specs.
VEGA_LITE = "5.20"

#: What the bundle runs: vl-convert's default snippet, the three libraries as globals for DVC's plot divs.
SNIPPET = "window.vegaEmbed = vegaEmbed;\nwindow.vega = vega;\nwindow.vegaLite = vegaLite;\n"

PAGE = """\
<!DOCTYPE html>
<!-- The page `dvc plots show` and `dvc plots diff` fill (.dvc/config: plots.html_template), written by
     `python -m srseg.dvcfile`: DVC's own page, with Vega, Vega-Lite and Vega-Embed inlined instead of loaded from a
     CDN, so the plots render offline. DVC puts its CDN script tags where a template has a "scripts" placeholder;
     this one has none.
     Inlined: vega @VEGA@, vega-lite @VEGA_LITE@ and vega-embed @EMBED@ (Copyright the University of Washington
     Interactive Data Lab, BSD-3-Clause) with their dependencies (d3 modules and others, ISC / MIT / BSD licences),
     as bundled by vl-convert-python @VLC@ (Copyright Jon Mease, BSD-3-Clause). -->
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <script type="text/javascript">
@BUNDLE@
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def render_html_template() -> str:
    """The text of :data:`HTML_TEMPLATE`: :data:`PAGE` with vl-convert-python's bundle of Vega, Vega-Lite
    :data:`VEGA_LITE` and Vega-Embed (one script that defines ``vegaEmbed``, the function DVC's plot divs call)."""
    from importlib.metadata import version

    import vl_convert as vlc  # in the `test` extra: only writing and checking this file needs it

    bundle = vlc.javascript_bundle(SNIPPET, vl_version=VEGA_LITE).strip()
    # inline, the bundle must not end its <script> element early nor hold a placeholder DVC fills
    bad = [s for s in ("</script", "<!--", "{plot_divs}", "{scripts}", "{refresh_tag}") if s in bundle.lower()]
    if bad:
        raise SrsegError(f"vl-convert's bundle contains {bad}: it cannot be inlined in {HTML_TEMPLATE}")
    fields = {"@VEGA@": vlc.get_vega_version(), "@VEGA_LITE@": VEGA_LITE, "@EMBED@": vlc.get_vega_embed_version(),
              "@VLC@": version("vl-convert-python")}
    page = PAGE
    for key, value in fields.items():
        page = page.replace(key, value)
    return page.replace("@BUNDLE@", bundle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render dvc.yaml from srseg's base stages and method registry, and "
                                                 "the offline page of `dvc plots` (.dvc/plots/offline.html).")
    parser.add_argument("--check", action="store_true", help="only say whether both are up to date (exit 1 if not)")
    parser.add_argument("--path", type=Path, default=Path("dvc.yaml"))
    args = parser.parse_args(argv)
    try:
        outputs = {args.path: render(), args.path.parent / HTML_TEMPLATE: render_html_template()}
    except ImportError as exc:
        print(f"{exc}: install the test extra (pip install -c constraints.txt -e '.[cpu,test]')", file=sys.stderr)
        return 1
    if args.check:
        stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"{path}: out of date; run python -m srseg.dvcfile", file=sys.stderr)
        if not stale:
            print(f"{', '.join(map(str, outputs))}: up to date")
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"{path}: written ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

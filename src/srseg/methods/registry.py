"""Every compared method, in the order of the figures and tables: importing this module imports each method's module.

A new method is a module in this package plus its place in :data:`MODULES` (:mod:`srseg.methods.base`;
docs/adding-a-method.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from srseg.errors import ParamsError, SrsegError
from srseg.methods import (
    bicubic,
    blur_aug,
    ft_sr,
    ft_sr_unseen,
    hr,
    joint,
    joint_ce,
    jointed,
    lr_pspnet,
    retrain_bicubic,
    retrain_sr,
    retrain_sr_on_hr,
    separate_ft,
    sft_oracle,
    sft_sr,
    sr,
    task_sr,
    task_sr_unseen,
)
from srseg.methods.base import METHODS, Method, register
from srseg.params import SECTIONS, Params, check_feasible, check_present, check_scale, read_params, validate
from srseg.paths import REPO, Paths

#: The method modules in the order of the tables and figures (each module registers its method when imported).
MODULES = (hr, bicubic, sr, retrain_sr, retrain_sr_on_hr, retrain_bicubic, ft_sr, task_sr, separate_ft, jointed,
           ft_sr_unseen, task_sr_unseen, lr_pspnet, joint, joint_ce, sft_sr, sft_oracle, blur_aug)
_first = {m.METHOD.name: m.METHOD for m in MODULES}
_later = {name: m for name, m in METHODS.items() if name not in _first}  # registered before this import, elsewhere
METHODS.clear()
METHODS.update({**_first, **_later})

__all__ = ["BICUBIC", "HR", "METHODS", "SR", "Method", "active", "check_method_scale", "evaluate", "get", "load_params",
           "register", "swept", "train", "trained"]

#: The 2019 study's chain, which the figures and the reading are built around: the HR reference, bicubic LR and SR.
HR, BICUBIC, SR = hr.METHOD, bicubic.METHOD, sr.METHOD


def get(name: str) -> Method:
    """The registered method called ``name``; SrsegError listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise SrsegError(f"unknown method {name!r} (known: {', '.join(METHODS)})") from None


def active(params: Params) -> Iterator[tuple[Method, int | None]]:
    """Every (method, scale) the params ask for, in registry order (the HR reference with scale ``None``)."""
    for m in METHODS.values():
        if m.scales is None:
            yield m, None
        else:
            for s in m.scale_list(params):
                yield m, s


def swept() -> list[Method]:
    """The methods whose segmenter the degradation sweep evaluates beside the HR-trained one (group ``sweep``)."""
    return [m for m in METHODS.values() if m.group == "sweep"]


def trained() -> list[Method]:
    """The methods that own a training stage, in registry order."""
    return [m for m in METHODS.values() if m.train is not None]


def evaluate(params: Params, name: str, scale: int | None, seed: int, paths: Paths = REPO) -> dict[str, Any]:
    """Evaluate method ``name`` at ``scale`` for training seed ``seed`` as its ``evaluate_<name>`` stage does
    (:func:`srseg.seg.evaluate.run_evaluate` on the method's images and segmenter)."""
    from srseg.seg.evaluate import run_evaluate

    m = get(name)
    check_method_scale(m, scale)
    images = m.image_root(paths, scale, seed)
    if not images.is_dir():
        raise SrsegError(f"{images}: no such folder; the images of {m.variant(scale)} (made by the {m.stage} stage) "
                         "are missing")
    return run_evaluate(params, m.variant(scale), images, m.model_path(paths, scale, seed), seed, paths,
                        input_scale=m.input_scale(scale), what=m.label_at(scale))


def train(params: Params, name: str, scale: int | None, seed: int, paths: Paths = REPO) -> Any:
    """Run method ``name``'s training stage for ``scale`` (None for a scale-free method) and ``seed`` (SrsegError
    if it has none)."""
    m = get(name)
    if m.train is None:
        raise SrsegError(f"method {name}: has no training stage of its own")
    check_method_scale(m, scale)
    return m.train.run(params, scale, seed, paths)


def check_method_scale(m: Method, scale: int | None) -> None:
    """SrsegError unless ``scale`` suits ``m``: None for a scale-free method, an integer >= 2 otherwise."""
    if m.scales is None:
        if scale is not None:
            raise SrsegError(f"method {m.name}: takes no scale")
    elif scale is None:
        raise SrsegError(f"method {m.name}: needs a scale")
    else:
        check_scale(scale)


def load_params(path: str | Path = "params.yaml", required: Sequence[str] = ()) -> Params:
    """Read and check the whole params file, as the ``check_params`` stage and ``srseg check-params`` do
    (:func:`srseg.dvcfile.load_params` passes ``required``):

    - validate it with every method's section (:func:`srseg.params.load_params` checks the sections of the method
      modules imported so far; this imports them all), refusing sections no method declares;
    - refuse a file without one of the ``required`` keys (:func:`srseg.params.check_present`: the keys dvc.yaml
      reads, for which no default fills in);
    - refuse values that certainly fail a stage later (:func:`srseg.params.check_feasible`).
    """
    raw = read_params(path)
    params = validate(raw, source=str(path))
    unknown = sorted(set(params.combine.model_extra or {}) - {k.rpartition(".")[2] for k in SECTIONS})
    if unknown:
        raise ParamsError(f"{path}: combine.{unknown[0]}: unknown key (allowed keys are those in the default "
                          "params.yaml)")
    check_present(raw, required, str(path))
    check_feasible(params, str(path))
    return params

"""Stage `evaluate_cliff@k`: segmenters on the degradation sweep (srseg.seg.sweep) → metrics/cliff/seed{k}/ (scores
and every val image's confusion matrix per segmenter and set). dvc.yaml gives the models (--model NAME=PATH) and
which of them also see the SR images (--on-sr NAME), so this stage imports no method or training code."""

from srseg.entry import stage
from srseg.errors import SrsegError
from srseg.params import load_params

# isort: split
import argparse  # after srseg, whose import sets TensorFlow's quiet defaults
from pathlib import Path


def _model(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH")
    return name, Path(path)


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=_model, action="append", required=True,
                        help="a segmenter as NAME=PATH (.keras); repeat for each")
    parser.add_argument("--on-sr", action="append", default=[], help="a NAME of --model also evaluated on SR images")
    parser.add_argument("--seed", type=int, required=True, help="training seed, one of `seeds`")
    args = parser.parse_args()
    models = dict(args.model)
    if len(models) != len(args.model):
        raise SrsegError("--model: a NAME is given twice")
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.seg.sweep import run_sweep

    run_sweep(params, models, set(args.on_sr), args.seed)


if __name__ == "__main__":
    main()

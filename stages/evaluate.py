"""Stage `evaluate_<method>@…`: a segmenter on a method's val images → data/pred/seed{k}/<variant> (labelIds PNGs)
and metrics/seg/seed{k}/<variant>.json (+ .npz: every image's confusion matrix); <variant> is hr or <method>_x<s>.
dvc.yaml gives each method's images and segmenter (srseg.dvcfile), so this stage imports no method or training code."""

from srseg.entry import stage
from srseg.errors import SrsegError
from srseg.params import load_params

# isort: split
import argparse  # after srseg, whose import sets TensorFlow's quiet defaults
from pathlib import Path


@stage
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="the evaluated variant: hr or <method>_x<scale>")
    parser.add_argument("--images", type=Path, required=True, help="its val images (Cityscapes layout)")
    parser.add_argument("--model", type=Path, required=True, help="the segmenter (.keras)")
    parser.add_argument("--seed", type=int, required=True, help="training seed, one of `seeds`")
    parser.add_argument("--input-scale", type=int, default=1, help="the images are this many times smaller than HR")
    args = parser.parse_args()
    if args.input_scale < 1:
        raise SrsegError(f"--input-scale {args.input_scale}: must be an integer >= 1")
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.seg.evaluate import run_evaluate

    run_evaluate(params, args.variant, args.images, args.model, args.seed, input_scale=args.input_scale)


if __name__ == "__main__":
    main()

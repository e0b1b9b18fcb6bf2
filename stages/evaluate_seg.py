"""Stage `evaluate_{method}@…`: a method's segmenter on its val images (srseg.methods) →
data/pred/seed{k}/<variant> (labelIds PNGs) and metrics/seg/seed{k}/<variant>.json; <variant> is hr or <method>_x<s>."""

from srseg.entry import stage, stage_args
from srseg.params import load_params


@stage
def main() -> None:
    args = stage_args(__doc__, method=True, scale=None, seed=True)
    params = load_params()
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    from srseg.seg.pipeline import run_evaluate

    run_evaluate(params, args.method, args.scale, args.seed)


if __name__ == "__main__":
    main()

"""Stage `<method stage>@s-k`: train a method's model at scale s for training seed k (srseg.methods.<method>: its
TrainSpec), e.g. `python stages/train.py --method task_sr --scale 4 --seed 0`; a scale-free method's stage
(`<method stage>@k`) takes no --scale. Only that method's module is imported, so a stage re-runs when its own code
changes, not another method's."""

from srseg.entry import stage, stage_args
from srseg.errors import SrsegError
from srseg.params import load_params
from srseg.paths import REPO

# isort: split
import importlib  # after srseg, whose import sets TensorFlow's quiet defaults


@stage
def main() -> None:
    args = stage_args(__doc__, method=True, scale=None, seed=True)
    try:
        module = importlib.import_module(f"srseg.methods.{args.method}")
    except ModuleNotFoundError:
        raise SrsegError(f"--method {args.method}: no module srseg.methods.{args.method}") from None
    spec = module.METHOD.train
    if spec is None:
        raise SrsegError(f"--method {args.method}: has no training stage of its own")
    if (module.METHOD.scales is None) != (args.scale is None):
        raise SrsegError(f"--method {args.method}: " + ("takes no --scale" if args.scale is not None
                                                         else "needs --scale"))
    params = load_params()  # after the import: the method's params section is declared by its module
    from srseg import runtime

    runtime.configure(params.runtime.threads, params.runtime.cpu_kernels)
    spec.run(params, args.scale, args.seed, REPO)


if __name__ == "__main__":
    main()

"""Stage `cliff_degrade`: the degradation sweep's val sets, data/cliff/x<f>/ for every factor of cliff.factors
(each HR val image bicubic down by f, then back up to HR size: srseg.degrade.down_up)."""

from srseg.degrade import degrade_sweep
from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO


@stage
def main() -> None:
    stage_args(__doc__)
    params = load_params()
    degrade_sweep(REPO.raw, params.cliff.factors, REPO.cliff_root)


if __name__ == "__main__":
    main()

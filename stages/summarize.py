"""Stage `summarize`: metrics/summary.json and the plot series under plots/series/."""

from srseg.cli import stage
from srseg.params import load_params
from srseg.summary import run


@stage
def main() -> None:
    params = load_params()
    run(params.scales, params.seg.retrain_scales)


if __name__ == "__main__":
    main()

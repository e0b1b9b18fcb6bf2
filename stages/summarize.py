"""Stage `summarize`: metrics/summary.json and the plot series under plots/series/."""

from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO
from srseg.results.summary import run


@stage
def main() -> None:
    stage_args(__doc__)
    run(load_params(), REPO)


if __name__ == "__main__":
    main()

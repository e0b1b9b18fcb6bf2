"""Stage `summarize`: metrics/summary.json and the plot series under plots/series/."""

from srseg.entry import stage
from srseg.params import load_params
from srseg.paths import REPO
from srseg.results.summary import run


@stage
def main() -> None:
    run(load_params(), REPO)


if __name__ == "__main__":
    main()

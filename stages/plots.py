"""Stage `plots`: the figures under plots/figures/ and report.md."""

from srseg.cli import stage
from srseg.params import load_params
from srseg.plots import run


@stage
def main() -> None:
    run(load_params())


if __name__ == "__main__":
    main()

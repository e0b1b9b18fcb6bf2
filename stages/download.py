"""Stage `download`: render or fetch `data.source` into data/raw (Cityscapes layout, HR crop rule applied)."""

from srseg.entry import stage, stage_args
from srseg.params import load_params
from srseg.paths import REPO
from srseg.sources import build_raw


@stage
def main() -> None:
    stage_args(__doc__)
    params = load_params()
    summary = build_raw(params, REPO.raw, cache_dir=REPO.downloads, metrics_path=REPO.data_metrics)
    print(f"{REPO.raw}: {summary['images']} images, HR {summary['hr_size']}")


if __name__ == "__main__":
    main()

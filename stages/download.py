"""Stage `download`: render or fetch `data.source` into data/raw (Cityscapes layout, HR crop rule applied)."""

from srseg.cli import stage
from srseg.params import load_params
from srseg.sources import build_raw


@stage
def main() -> None:
    params = load_params()
    summary = build_raw(params, "data/raw", cache_dir="data/downloads", metrics_path="metrics/data.json")
    print(f"data/raw: {summary['images']} images, HR {summary['hr_size']}")


if __name__ == "__main__":
    main()

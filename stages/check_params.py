"""Stage `check_params`: check the whole params.yaml before any other stage runs (every stage depends on its
output), so a bad value stops `dvc repro` before DVC removes any stage's outputs: the schema, every key dvc.yaml
reads present in the file, and values that would certainly fail later (srseg.dvcfile.load_params)."""

from srseg.dvcfile import load_params
from srseg.entry import stage, stage_args
from srseg.io import atomic_file
from srseg.paths import REPO


@stage
def main() -> None:
    stage_args(__doc__)
    load_params()
    with atomic_file(REPO.params_ok) as fh:  # the same bytes for every valid params.yaml
        fh.write("params.yaml: valid\n")


if __name__ == "__main__":
    main()

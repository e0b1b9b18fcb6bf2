"""Stage `code`: data/code/<kind>.json for every kind of stage in dvc.yaml — each source file its entry files can
import (srseg.codegraph), with its SHA-256. Every stage depends on its kind's file, which changes exactly when one of
its source files does."""

from srseg.codegraph import fingerprint
from srseg.dvcfile import CODE, code_kinds
from srseg.entry import stage, stage_args
from srseg.io import atomic_dir
from srseg.paths import REPO

# isort: split
import json  # after srseg, whose import sets TensorFlow's quiet defaults


@stage
def main() -> None:
    stage_args(__doc__)
    with atomic_dir(REPO.root / CODE) as tmp:
        for kind, entries in code_kinds().items():
            files = fingerprint(entries, REPO.root)
            (tmp / f"{kind}.json").write_text(json.dumps(files, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

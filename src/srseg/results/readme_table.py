"""The README's results table, written from the studies' summaries so that it never drifts from them.

``python -m srseg.results.readme_table`` rewrites the table between the README's markers from the summaries of
:data:`STUDIES` (``--check``: only say whether it is up to date; a test runs it). A row is one difference of the
study — SR against bicubic at each scale, and every method against its registered baseline — with its 95 % interval
(two-level bootstrap over seeds and blocks of val frames) and its verdict after Holm's adjustment within its family:
*higher* / *lower*, marked *indicative* when the study has fewer training seeds than a finding needs, or *no change*.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srseg.errors import SrsegError
from srseg.io import replace_between
from srseg.methods import registry as methods
from srseg.paths import Paths
from srseg.results.schema import Comparison, Summary
from srseg.results.wording import diff_cell, level_cell

ROOT = Path(__file__).resolve().parents[3]
#: (column title, summary.json path relative to the repository), in column order.
STUDIES: tuple[tuple[str, Path], ...] = (
    ("CamVid by sequence (val 0006R0)", Path("docs/camvid-sequence/summary.json")),
    ("synthetic scenes (default run)", Paths(Path(".")).summary),
)
BEGIN = ("<!-- results table: written by `python -m srseg.results.readme_table` from the studies' summary.json; "
         "do not edit -->")
END = "<!-- end of results table -->"

Row = tuple[str, str, str]  # (comparison key, metric, row title)


def _verdict(entry: dict[str, Any], seeds: int, need: int) -> str:
    v = entry.get("verdict")
    if v is None or v == "none":
        return "no change"
    return v if seeds >= need else f"{v}, indicative ({seeds} seed{'s' if seeds != 1 else ''})"


def rows(summary: Summary) -> list[tuple[Row, Comparison]]:
    """The study's headline differences, in reading order: SR − bicubic (Y-PSNR, PACC, mIoU per scale), then every
    other method against its baseline (PACC, mIoU, and Y-PSNR where both sides have images)."""
    out: list[tuple[Row, Comparison]] = []
    chain = [c for c in summary.against_baselines() if c.b.method is methods.SR]
    for metric, name in (("psnr_y", "Y-PSNR"), ("pacc", "PACC"), ("miou", "mIoU")):
        for c in chain:
            out.append(((c.key, metric, f"SR − bicubic, {name}, ×{c.scale}"), c))
    for c in summary.against_baselines():
        if c.b.method is methods.SR:
            continue
        title = f"{summary.label(c.b)} − {summary.label(c.a)}"
        out += [((c.key, m, f"{title}, {n}"), c) for m, n in (("pacc", "PACC"), ("miou", "mIoU"), ("psnr_y", "Y-PSNR"))
                if c.get(m)]
    return out


def table(studies: Sequence[tuple[str, Summary]]) -> str:
    """The Markdown table: a row per difference of any study, a column per study."""
    header = ["difference (B − A)"] + [f"{title}: {len(s.seeds)} seed{'s' if len(s.seeds) != 1 else ''}"
                                       for title, s in studies]
    by_study = [{row[:2]: (row[2], comp) for row, comp in rows(s)} for _, s in studies]
    keys = list(dict.fromkeys(k for table_ in by_study for k in table_))
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " --- |" * len(studies)]
    hr_cells = []
    for _, s in studies:
        hr = s.variant(methods.HR)
        hr_cells.append(f"PACC {level_cell(hr['pacc'], hr['pacc_ci95'], 100, '%')}, "
                        f"mIoU {level_cell(hr['miou'], hr['miou_ci95'], 100, '%')}")
    lines.append("| HR-trained PSPNet on HR images | " + " | ".join(hr_cells) + " |")
    for key in keys:
        title = next(t[key][0] for t in by_study if key in t)
        cells = []
        for (_, s), t in zip(studies, by_study, strict=True):
            if key not in t:
                cells.append("—")
                continue
            entry = t[key][1][key[1]]
            unit, factor = ("dB", 1.0) if key[1] == "psnr_y" else ("pp", 100.0)
            need = (s.settings.get("bootstrap") or {}).get("min_seeds_for_findings", 3)
            cells.append(f"{diff_cell(entry['diff'], entry['ci95'], factor, unit)}: "
                         f"{_verdict(entry, len(s.seeds), need)}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load(root: Path) -> list[tuple[str, Summary]]:
    """The studies' summaries under ``root``; SrsegError naming a missing one."""
    out = []
    for title, rel in STUDIES:
        path = root / rel
        if not path.is_file():
            raise SrsegError(f"{path}: missing (the README's results table reads it)")
        out.append((title, Summary.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))))
    return out


def with_table(readme: str, text: str) -> str:
    """``readme`` with ``text`` between its markers; SrsegError when they are missing."""
    return replace_between(readme, BEGIN, END, text, "README.md (results table)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srseg.results.readme_table", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the table is up to date (exit 1 if not)")
    args = parser.parse_args(argv)
    readme = ROOT / "README.md"
    try:
        text = with_table(readme.read_text(encoding="utf-8"), table(load(ROOT)))
    except SrsegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        ok = text == readme.read_text(encoding="utf-8")
        print("README.md results table: "
              + ("up to date" if ok else "out of date (run python -m srseg.results.readme_table)"))
        return 0 if ok else 1
    readme.write_text(text, encoding="utf-8")
    print("README.md results table: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())

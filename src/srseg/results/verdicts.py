"""Verdicts travel with the numbers: every worded difference's verdict, and how this run's verdicts compare with the
committed results (the ``summarize`` stage ends with one line, so that a run on another CPU type or with other
params cannot change a verdict silently).

The committed results are ``metrics/summary.json`` at git's ``HEAD``; a summary of schema 1 (before families had
verdicts) is read by its intervals alone (a difference whose interval excludes zero).
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srseg.results.wording import excludes_zero

log = logging.getLogger(__name__)

SIGN = {"higher": 1, "lower": -1, "none": 0}


def verdicts(summary: Mapping[str, Any]) -> dict[str, str]:
    """``{"<comparison key>.<metric>": "higher" | "lower" | "none"}`` of every difference that carries a verdict
    (the comparisons' PACC, mIoU, Y-PSNR and pedestrian recall)."""
    out = {}
    for key, comp in summary.get("comparisons", {}).items():
        entries = {m: comp.get(m) for m in ("pacc", "miou", "psnr_y")}
        entries["pedestrian_recall"] = (comp.get("objects") or {}).get("pedestrian_recall")
        for metric, entry in entries.items():
            if not entry:
                continue
            if "verdict" in entry:
                out[f"{key}.{metric}"] = entry["verdict"]
            elif summary.get("schema_version", 1) == 1:
                out[f"{key}.{metric}"] = (("higher" if entry["diff"] > 0 else "lower")
                                          if excludes_zero(entry.get("ci95")) else "none")
    return out


def committed_summary(path: Path) -> dict[str, Any] | None:
    """``path`` as committed at ``HEAD`` (None outside a git checkout, or where it is not committed)."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path.parent, capture_output=True,
                             text=True, check=True).stdout.strip()
        rel = path.resolve().relative_to(Path(top).resolve())
        text = subprocess.run(["git", "show", f"HEAD:{rel.as_posix()}"], cwd=top, capture_output=True, text=True,
                              check=True).stdout
        data = json.loads(text)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def compare(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[int, list[str]]:
    """How many verdicts are the same, and a line per changed one (``key: old → new``); differences that only one
    side has are not counted."""
    common = sorted(set(old) & set(new))
    changed = [f"{k}: {old[k]} → {new[k]}" for k in common if old[k] != new[k]]
    return len(common) - len(changed), changed


def report_changes(summary: Mapping[str, Any], path: Path) -> str:
    """The one line the ``summarize`` stage ends with (also logged)."""
    old = committed_summary(path)
    if old is None:
        line = "verdicts vs the committed results: no committed metrics/summary.json to compare with"
    else:
        same, changed = compare(verdicts(old), verdicts(summary))
        line = f"verdicts vs the committed results: {same} same, {len(changed)} changed" + (
            ": " + "; ".join(changed) if changed else "")
    log.info(line)
    return line

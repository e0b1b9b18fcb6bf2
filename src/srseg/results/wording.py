"""How the report words numbers: percentages, signed differences and intervals with enough digits, Markdown
tables, and the rule that reads a difference as a change.

The reading follows the verdicts: a difference is called an improvement (or a loss) only when its 95 % bootstrap
interval (over seeds and val images) excludes zero and its p-value, Holm-adjusted within its family of comparisons,
is below 5 % (:func:`measurable`, :mod:`srseg.results.families`); otherwise it is "no measurable difference", with
the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pct(frac: float | None, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.9123`` → ``91.23 %``."""
    return "n/a" if frac is None else f"{frac * 100:.{digits}f} %"


def level(v: float | None, digits: int = 2) -> str:
    """A number with a real minus sign when negative (``n/a`` for None)."""
    return "n/a" if v is None else f"{v:.{digits}f}".replace("-", "−")


def signed(v: float | None, unit: str = "", digits: int = 2) -> str:
    """``+1.23 unit`` / ``−0.40 unit`` with a real minus sign (``n/a`` for None)."""
    if v is None:
        return "n/a"
    return f"{v:+.{digits}f}".replace("-", "−") + (f" {unit}" if unit else "")


def enough_digits(values: Sequence[float | None], digits: int = 2, most: int = 5, *, apart: bool = False) -> int:
    """At least ``digits`` decimals, more (up to ``most``) until no non-zero value reads as zero: an interval that
    excludes zero must not print as [+0.00, +0.01]. ``apart``: also until different values read differently
    (two numbers set side by side, "+0.005 against +0.012", not "+0.01 against +0.01")."""
    nonzero = [abs(x) for x in values if x]
    known = [x for x in values if x is not None]

    def unclear(d: int) -> bool:
        if any(round(x, d) == 0 for x in nonzero):
            return True
        return apart and len({round(x, d) for x in known}) < len(set(known))

    while digits < most and unclear(digits):
        digits += 1
    return digits


def _ends(ci: Sequence[float | None] | None) -> tuple[float, float] | None:
    """An interval's two ends, or None when it or either end is missing."""
    if not ci:
        return None
    lo, hi = ci[0], ci[1]
    return None if lo is None or hi is None else (lo, hi)


def interval(ci: Sequence[float | None] | None, factor: float = 1.0, unit: str = "", digits: int = 2) -> str:
    """``[−0.12, +0.34] unit`` (``n/a`` when missing)."""
    ends = _ends(ci)
    if ends is None:
        return "n/a"
    lo, hi = (signed(x * factor, "", digits) for x in ends)
    return f"[{lo}, {hi}]" + (f" {unit}" if unit else "")


def level_interval(ci: Sequence[float | None] | None, factor: float = 1.0, unit: str = "", digits: int = 2) -> str:
    """``[0.12, 0.34] unit``: the interval of a level (a score, not a difference), without signs."""
    ends = _ends(ci)
    if ends is None:
        return "n/a"
    lo, hi = (f"{x * factor:.{digits}f}".replace("-", "−") for x in ends)
    return f"[{lo}, {hi}]" + (f" {unit}" if unit else "")


def degenerate(ci: Sequence[float | None] | None) -> bool:
    """Whether an interval is one value: every resample gave the same number (both variants found the same
    pedestrians on every image, say), so there is no interval to print."""
    ends = _ends(ci)
    return ends is not None and ends[0] == ends[1]


#: Printed instead of a degenerate interval (:func:`degenerate`).
EVERY_RESAMPLE = "(every resample)"


def diff_cell(value: float | None, ci: Sequence[float | None] | None, factor: float = 1.0, unit: str = "",
              digits: int = 2) -> str:
    """A difference and its interval with enough digits (:func:`enough_digits`): ``+0.52 pp [+0.10, +0.93]``;
    ``+0.00 pp (every resample)`` for a degenerate interval; ``n/a`` without a value."""
    if value is None:
        return "n/a"
    ends = _ends(ci)
    d = enough_digits([value * factor, *(x * factor for x in ends or ())], digits)
    head = signed(value * factor, unit, d)
    if ends is None:
        return head
    return f"{head} {EVERY_RESAMPLE}" if degenerate(ci) else f"{head} {interval(ci, factor, '', d)}"


def level_cell(value: float | None, ci: Sequence[float | None] | None, factor: float = 100.0, unit: str = "%",
               digits: int = 2) -> str:
    """A level (a score) and its interval: ``88.29 % [86.83, 89.58]``; ``0.0 % (every resample)`` for a degenerate
    interval; ``n/a`` without a value."""
    if value is None:
        return "n/a"
    ends = _ends(ci)
    d = enough_digits([value * factor, *(x * factor for x in ends or ())], digits)
    head = f"{level(value * factor, d)} {unit}".rstrip()
    if ends is None:
        return head
    return f"{head} {EVERY_RESAMPLE}" if degenerate(ci) else f"{head} {level_interval(ci, factor, '', d)}"


def excludes_zero(ci: Sequence[float | None] | None) -> bool:
    """True when a difference's interval lies entirely above or below zero."""
    ends = _ends(ci)
    return ends is not None and (ends[0] > 0 or ends[1] < 0)


def measurable(diff: dict[str, Any] | None, ci: Sequence[float | None] | None = None) -> bool:
    """Whether a difference reads as a change: its family's verdict (:func:`srseg.results.families.adjust`) where it
    has one, else its bootstrap interval (``ci``, default ``diff["ci95"]``) excludes zero (a single comparison)."""
    if not diff:
        return False
    if "verdict" in diff:
        return bool(diff["verdict"] != "none")
    return excludes_zero(diff["ci95"] if ci is None else ci)


def adjusted_away(diff: dict[str, Any] | None) -> bool:
    """Whether a difference's interval excludes zero but Holm's adjustment within its family takes the verdict."""
    return diff is not None and not measurable(diff) and excludes_zero(diff["ci95"])


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A Markdown table; ``align`` is one char per column (l or r, default r except the first)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def and_list(items: Sequence[str]) -> str:
    """``["a"]`` → ``a``; ``["a", "b", "c"]`` → ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def effect(diff: dict[str, Any] | None, where: str, *, up: str, down: str, what: str = "", unit: str = "pp",
           factor: float = 100.0) -> str:
    """One clause about a difference, worded by its verdict: "<up> [what] <where> by +1.16 pp (95 % CI
    [+0.40, +1.90] pp)", "no measurable difference [in what] <where>: +0.05 pp (95 % CI [−0.30, +0.20] pp)", or,
    when every resample gives the same difference, "no difference [in what] <where>: +0.00 pp (every resample)".
    The difference B − A is printed times ``factor`` in ``unit`` (default: a fraction in percentage points)."""

    def words(*parts: str) -> str:
        return " ".join(p for p in parts if p)

    value, ci = (None, None) if diff is None else (diff["diff"], diff["ci95"])
    if diff is None or value is None:
        return words(what or "the difference", "is undefined", where)
    if degenerate(ci):  # the same difference in every resample: no interval to give
        same = f"{signed(value * factor, unit, enough_digits([value * factor]))} {EVERY_RESAMPLE}"
        if not measurable(diff, ci):
            return words("no difference", f"in {what}" if what else "", where) + f": {same}"
        return words(up if value > 0 else down, what, where, "by", same)
    d = enough_digits([value * factor, *(x * factor for x in ci or () if x is not None)])
    shown = f"{signed(value * factor, unit, d)} (95 % CI {interval(ci, factor, unit, d)}"
    if spread := diff.get("seeds"):
        n = enough_digits([x * factor for x in spread["ci95"]])
        shown += f"; across seeds {interval(spread['ci95'], factor, unit, n)}"
    shown += ")"
    if not measurable(diff, ci):
        holm = " once its family's comparisons are counted (Holm)" if adjusted_away(diff) else ""
        return words("no measurable difference", f"in {what}" if what else "", where) + f"{holm}: {shown}"
    return words(up if value > 0 else down, what, where, "by", shown)

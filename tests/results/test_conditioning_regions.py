"""The report's table of the class regions where conditioning should help, and its reading of the upper bound:
written from the numbers, whatever they are."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from srseg.results.report import CONDITIONING_REGIONS, conditioning_regions


def _comp(name: str, upper_bound: bool, diffs: dict[str, tuple[float, float, float]]) -> Any:
    class_psnr = {c: {"diff": d, "ci95": [lo, hi], "verdict": "none" if lo <= 0 <= hi else "higher"}
                  for c, (d, lo, hi) in diffs.items()}
    return SimpleNamespace(scale=4, a=SimpleNamespace(name="ft_sr"), b=SimpleNamespace(
        name=name, method=SimpleNamespace(upper_bound=upper_bound)), class_psnr=class_psnr)


SUMMARY: Any = SimpleNamespace(label=lambda key: {"ft_sr": "plain", "sft_sr": "SFT", "sft_oracle": "ORACLE"}[key.name])


def _text(oracle: dict[str, tuple[float, float, float]]) -> str:
    real = _comp("sft_sr", False, {"pole": (0.001, -0.002, 0.004), "road": (0.5, 0.4, 0.6)})
    return "\n".join(conditioning_regions(SUMMARY, [real, _comp("sft_oracle", True, oracle)]))


def test_the_table_lists_only_the_regions_where_conditioning_should_help() -> None:
    text = _text({"pole": (0.01, 0.005, 0.015), "vegetation": (0.002, -0.001, 0.004), "road": (1.0, 0.9, 1.1)})
    assert "| SFT − plain: Δ dB [95 % CI] | ORACLE − plain: Δ dB [95 % CI] |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "Δ dB" not in line and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["pole", "vegetation"]
    assert "| pole | thin |" in text and "| vegetation | textured |" in text and "road" not in text
    assert {"pole", "traffic sign", "traffic light", "person", "bicycle"} == set(CONDITIONING_REGIONS["thin"])


def test_a_tiny_bound_is_read_as_tiny_with_its_interval() -> None:
    text = _text({"pole": (0.01, 0.005, 0.015), "vegetation": (0.002, -0.001, 0.004)})
    assert "largest change of the upper bound (ORACLE) in these regions is +0.010 dB [+0.005, +0.015] in pole, " \
           "a change; its interval lies within ±0.1 dB: even ground-truth maps leave little" in text


def test_a_large_bound_is_not_called_tiny() -> None:
    text = _text({"pole": (0.01, 0.005, 0.015), "building": (-0.4, -0.6, -0.2), "terrain": (0.05, -0.01, 0.11)})
    assert "is −0.400 dB [−0.600, −0.200] in building, a change; its interval reaches 0.1 dB or more." in text
    assert "leave little" not in text
    no_change = _text({"person": (0.05, -0.2, 0.3)})
    assert "in person, no change after Holm's adjustment; its interval reaches 0.1 dB or more." in no_change

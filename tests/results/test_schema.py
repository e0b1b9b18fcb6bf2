"""summary.json's typed objects and its documented schema: the lookup API by method objects, the JSON round trip,
docs/summary-schema.md against what the summarize stage writes, and no method name spelled out in srseg.results."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from srseg.errors import SrsegError
from srseg.methods import registry
from srseg.methods.registry import METHODS
from srseg.paths import Paths
from srseg.results.inputs import load_summary
from srseg.results.schema import SCHEMA_VERSION, Comparison, Summary, VariantKey
from srseg.results.summary import run
from tests.results.test_summary import params_for, write_metrics

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "summary-schema.md"
RESULTS = REPO / "src" / "srseg" / "results"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """summary.json of tiny inputs that exercise every optional key: two seeds, instances, every method."""
    root = tmp_path_factory.mktemp("summary")
    write_metrics(root, [2, 4], [4], seeds=(0, 1), objects=True)
    for run_name, losses in (("seg_hr", [2.0, 1.5, 1.2, 1.0]), ("sr_x2", [9.0, 8.0])):  # judged, not judged
        log = Paths(root).train_log(run_name, 0) / "plots" / "metrics" / "train" / "loss.tsv"
        log.parent.mkdir(parents=True)
        log.write_text("step\tloss\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(losses)))
    run(params_for([2, 4], [4], seeds=[0, 1]), Paths(root))
    return json.loads(Paths(root).summary.read_text())


def documented(section: str) -> dict[str, str]:
    """{key: "always" | "optional"} of the table under ``## <section>`` in docs/summary-schema.md."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {section}")
    keys = {}
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if m := re.match(r"\| `([^`]+)` \| (always|optional) \|", line):
            keys[m[1]] = m[2]
    assert keys, f"no key table under ## {section}"
    return keys


def check(section: str, entries: Iterable[dict]) -> None:
    """The documented keys are exactly those the entries use, and every *always* key is in every entry."""
    entries = [e for e in entries if e is not None]
    assert entries, section
    doc = documented(section)
    assert set().union(*entries) == set(doc), section
    always = {k for k, p in doc.items() if p == "always"}
    for e in entries:
        assert always <= set(e), (section, sorted(always - set(e)))


def test_schema_doc_matches_the_writer(written: dict) -> None:
    s = written
    assert s["schema_version"] == SCHEMA_VERSION
    check("Top-level keys", [s])
    check("settings", [s["settings"]])
    variants, comparisons = s["variants"].values(), s["comparisons"].values()
    check("Variant entry", variants)
    check("Object score entry", [r for v in variants for r in v["objects"].values()])
    check("Comparison entry", comparisons)
    check("Difference entry", [c[k] for c in comparisons for k in ("pacc", "miou")])
    check("Y-PSNR difference entry", [c["psnr_y"] for c in comparisons if "psnr_y" in c])
    check("Object difference entry", [r for c in comparisons for r in c["objects"].values()])
    check("Class-region entry", [r for c in comparisons for r in c.get("class_psnr", {}).values()])
    check("Seed spread", [v["pacc_seeds"] for v in variants] + [c["pacc"]["seeds"] for c in comparisons])
    combined = s["combined"].values()
    check("Combined entry", combined)
    check("Combined row", [r for e in combined for r in e["rows"]])
    check("Margin", [e["margin"] for e in combined])
    check("Convergence entry", s["convergence"])
    assert [c["flagged"] for c in s["convergence"]] == [True, False]


def test_round_trip_and_explicit_fields(written: dict) -> None:
    summary = Summary.from_json(written)
    assert summary.to_json() == written
    for key, c in written["comparisons"].items():  # every comparison names its methods and scale
        b, a = written["variants"][c["b"]], written["variants"][c["a"]]
        assert (c["b_method"], c["a_method"], c["scale"]) == (b["method"], a["method"], b["scale"])
        assert a["scale"] in (None, c["scale"]) and key == f"{c['b']}-vs-{c['a']}"
    assert [e["scale"] for e in written["combined"].values()] == [4]


def test_lookups_by_method(written: dict) -> None:
    summary = Summary.from_json(written)
    gain = summary.comparison(registry.SR, registry.BICUBIC, 2)
    assert isinstance(gain, Comparison) and gain.b == VariantKey(registry.SR, 2) and gain.scale == 2
    assert gain.pacc == written["comparisons"]["sr_x2-vs-bicubic_x2"]["pacc"] and gain.seeds == (0, 1)
    # the scale-free HR reference takes no scale, whatever the scale asked
    assert summary.comparison(registry.BICUBIC, registry.HR, 4).a == VariantKey(registry.HR, None)
    assert summary.variant(registry.HR)["pacc"] == written["variants"]["hr"]["pacc"]
    assert summary.variant(registry.SR, 4).label == written["variants"]["sr_x4"]["label"]
    ft = METHODS["ft_sr"]
    assert summary.comparison(METHODS["sft_sr"], ft, 4).class_psnr is not None
    assert summary.find_comparison(registry.SR, registry.BICUBIC, 3) is None
    with pytest.raises(SrsegError, match="no comparison of sr_x3 against bicubic_x3"):
        summary.comparison(registry.SR, registry.BICUBIC, 3)
    # the registry baselines, not the controls nor HR: what headline.json lists
    assert {c.b.name for c in summary.against_baselines()} == {
        "sr_x2", "sr_x4", "retrain_sr_x4", *(m.variant(4) for m in METHODS.values() if m.scales == "combine.scales")}
    # variants in registry order, then scale
    order = [v.name for v in summary.variants]
    assert order[:5] == ["hr", "bicubic_x2", "bicubic_x4", "sr_x2", "sr_x4"]


def test_another_schema_version_is_refused(tmp_path: Path, written: dict) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({**written, "schema_version": 0}))
    expected = rf"summary\.json: schema_version 0, expected {SCHEMA_VERSION} \(re-run the summarize"
    with pytest.raises(SrsegError, match=expected):
        load_summary(path)
    old = {k: v for k, v in written.items() if k != "schema_version"}
    path.write_text(json.dumps(old))
    with pytest.raises(SrsegError, match="schema_version None"):
        load_summary(path)
    bad = json.loads(json.dumps(written))
    bad["comparisons"]["sr_x2-vs-bicubic_x2"]["b_method"] = "bicubic"
    with pytest.raises(SrsegError, match="comparisons.sr_x2-vs-bicubic_x2: b_method, a_method and scale disagree"):
        Summary.from_json(bad)


def _strings(tree: ast.AST) -> Iterable[ast.Constant]:
    """String constants that are not docstrings (f-strings' literal parts included)."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def test_no_method_name_is_spelled_out_in_results() -> None:
    """srseg.results asks the registry (its Method objects and fields) and the typed summary: no string literal is a
    method's name, a variant name or a name prefix or suffix (``"sr"``, ``"ft_sr_"``, ``f"bicubic_x{s}"``,
    ``"_bicubic"``), and no module but the schema builds a comparison key (``-vs-``)."""
    names = sorted(METHODS, key=len, reverse=True)
    pattern = re.compile(r"^(?:{0})(?:_.*)?$|_(?:{0})$".format("|".join(map(re.escape, names))))
    found = []
    for path in sorted(RESULTS.glob("*.py")):
        for node in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            if pattern.search(node.value) or ("-vs-" in node.value and path.name != "schema.py"):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_results_modules_stay_small() -> None:
    """One responsibility per module: none grows past about 400 lines."""
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in RESULTS.glob("*.py")}
    assert max(sizes.values()) <= 400, sizes

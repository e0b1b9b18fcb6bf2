"""Start-up cost of every stage script: the interpreter and the imports until the first work.

For each script under ``stages/`` it measures, in fresh subprocesses (minimum of ``--repeat`` runs, interleaved so
that load hits every script alike):

* ``--help``: the interpreter plus the script's module-level imports (argument parsing, params, paths);
* ``imports``: the interpreter plus every module the stage imports before it works — its ``srseg`` modules, found
  statically as the deps test does (lazy imports inside functions included) and imported together, with the
  third-party packages they pull in (TensorFlow, Keras, DVCLive, SciPy, …).

Side by side it measures the bare interpreter, ``import tensorflow`` and ``import dvclive``, so the table says how
much of each stage's start-up is TensorFlow's fixed cost and how much is srseg's own. The count of stage processes
of the default ``dvc repro`` gives the total.

DVC's own share: around every stage it runs, ``dvc repro`` reads ``dvc.lock`` and rewrites it (a round-trip parse and
dump that keeps comments). ``dvc status`` (which reads the lock the same way) is timed with ruamel.yaml's C parser
and with its pure-Python one, side by side, and the round trip of this repository's ``dvc.lock`` is timed in-process.

    python benchmarks/bench_startup.py [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.dvc_graph: the import scan and the rendered stages

from tests.dvc_graph import SRC, rendered_stages, transitive_imports  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
       "TF_CPP_MIN_LOG_LEVEL": "3"}


def seconds(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def modules_of(script: Path) -> list[str]:
    """The ``srseg`` modules a stage script imports, directly or lazily, as dotted names."""
    out = []
    for path in transitive_imports(script):
        if path.is_relative_to(SRC):
            rel = path.relative_to(SRC).with_suffix("")
            out.append(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    stages = rendered_stages()
    runs = Counter(s["cmd"].split()[1] for s in stages.values() if s["cmd"].startswith("python stages/"))
    scripts = sorted(REPO / s for s in runs)
    probes: dict[str, list[str]] = {
        "(bare interpreter)": [sys.executable, "-c", "pass"],
        "(import tensorflow)": [sys.executable, "-c", "import tensorflow"],
        "(import dvclive)": [sys.executable, "-c", "import dvclive"],
        "(dvc status)": [sys.executable, "-c", DVC_STATUS.format(patch="")],
        "(dvc status, pure-Python YAML)": [sys.executable, "-c", DVC_STATUS.format(patch=PURE_YAML)],
    }
    for script in scripts:
        name = script.name
        probes[f"{name} --help"] = [sys.executable, str(script), "--help"]
        probes[f"{name} imports"] = [sys.executable, "-c", "import " + ", ".join(modules_of(script))]
    best: dict[str, float] = {}
    load = os.getloadavg()[0]
    for _ in range(args.repeat):
        for key, cmd in probes.items():
            best[key] = min(best.get(key, float("inf")), seconds(cmd))
    print(f"{os.cpu_count()} CPUs, load average {load:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"minimum of {args.repeat} runs\n")
    for key in list(probes)[:5]:
        print(f"{key:<36} {best[key]:6.2f} s")
    lock = lock_round_trip(args.repeat)
    print(f"{'(dvc.lock round trip per stage)':<36} {lock['round_trip']:6.2f} s  ({lock['bytes'] / 1024:.0f} KB: "
          f"read {lock['read']:.2f} s with the C parser, {lock['read_pure']:.2f} s without; rewrite "
          f"{lock['round_trip']:.2f} s, pure Python either way)")
    tf = best["(import tensorflow)"]
    print(f"\n{'script':<24} {'runs':>4} {'--help':>7} {'imports':>8} {'of which TF':>12}")
    total = 0.0
    rows = []
    for script in scripts:
        name, n = script.name, runs[str(script.relative_to(REPO))]
        imports = best[f"{name} imports"]
        uses_tf = any(m.startswith("srseg.models") or m == "srseg.training.loop" for m in modules_of(script))
        total += n * imports
        rows.append({"script": name, "runs": n, "help": best[f"{name} --help"], "imports": imports,
                     "tensorflow": uses_tf})
        print(f"{name:<24} {n:4d} {best[f'{name} --help']:7.2f} {imports:8.2f} {(f'{tf:.2f}' if uses_tf else '—'):>12}")
    n_tf = sum(r["runs"] for r in rows if r["tensorflow"])
    print(f"\n{sum(runs.values())} stage processes in the default dvc repro, {n_tf} of them import TensorFlow: "
          f"{total:.0f} s of start-up in all, {n_tf * tf:.0f} s of it TensorFlow's own import")
    n_stages = len(stages)
    print(f"DVC around the {n_stages} stages: about {n_stages * (lock['read'] + lock['round_trip']):.0f} s of dvc.lock "
          f"reads and rewrites ({n_stages * (lock['read_pure'] + lock['round_trip']):.0f} s with pure-Python reads)")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "probes": best, "rows": rows, "total": total,
                                               "dvc_lock": lock}, indent=2))


# `dvc status` in-process, optionally with ruamel.yaml's C parser hidden (as without ruamel.yaml.clib installed).
PURE_YAML = "import ruamel.yaml.main as m; m.CParser = m.CEmitter = None; "
DVC_STATUS = "{patch}from dvc.cli import main; raise SystemExit(main(['status', '--quiet']) not in (0, 1))"


def lock_round_trip(repeat: int) -> dict[str, float]:
    """Seconds to read this repository's ``dvc.lock`` as ``dvc repro`` does (safe loader, with and without the C
    parser) and to rewrite it (round-trip parse and dump); minimum of ``repeat`` runs each."""
    import io

    from dvc.utils.serialize._yaml import _get_yaml, parse_yaml, parse_yaml_for_update
    from ruamel.yaml import YAML

    text = (REPO / "dvc.lock").read_text()

    def best(fn) -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    def rewrite() -> None:
        _get_yaml().dump(parse_yaml_for_update(text, "dvc.lock"), io.StringIO())

    return {"bytes": len(text.encode()), "read": best(lambda: parse_yaml(text, "dvc.lock")),
            "read_pure": best(lambda: YAML(typ="safe", pure=True).load(text)), "round_trip": best(rewrite)}


if __name__ == "__main__":
    main()

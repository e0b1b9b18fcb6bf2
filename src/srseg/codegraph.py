"""Which source files a stage runs: the ``srseg`` import closure of its entry files, read from the code (AST).

A stage depends on its script and on every ``srseg`` module the script can import, at module level or inside a
function. ``dvc.yaml`` does not list these files stage by stage: the ``code`` stage writes one fingerprint per
kind of stage (``data/code/<kind>.json``: each file of the closure with its SHA-256), and every stage depends on
its kind's fingerprint, which changes exactly when one of its files does (:mod:`srseg.dvcfile`).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

#: The ``src`` folder of this checkout and its repository root (the defaults; the ``code`` stage passes the
#: repository it runs in, whose files DVC tracks).
SRC = Path(__file__).resolve().parents[1]
ROOT = SRC.parent


def module_file(name: str, src: Path = SRC) -> Path | None:
    """The source file of an ``srseg`` module (``srseg.a.b`` → src/srseg/a/b.py or its package ``__init__``)."""
    base = src.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1])


@cache
def direct_imports(path: Path, src: Path = SRC) -> frozenset[str]:
    """``srseg`` modules imported anywhere in ``path`` (module level or inside functions), as module names.

    ``from srseg.a import b`` counts ``srseg.a`` and, when ``b`` is a module, ``srseg.a.b``; importing a module
    also runs its packages' ``__init__``, so they count too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _package(path, src) if path.is_relative_to(src) else ""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "srseg" and module_file(name, src) is not None:
                parts = name.split(".")
                out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(out)


def closure(entries: Iterable[Path], src: Path = SRC) -> list[Path]:
    """The entry files and the source file of every ``srseg`` module under ``src`` they can import, sorted."""
    src = src.resolve()
    files = [Path(e).resolve() for e in entries]
    seen: set[str] = set()
    todo = [name for e in files for name in direct_imports(e, src)]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(direct_imports(module_file(name, src), src))
    return sorted(set(files) | {f for n in seen if (f := module_file(n, src)) is not None})


def fingerprint(entries: Iterable[str], root: Path = ROOT) -> dict[str, str]:
    """``{path: sha256}`` of the :func:`closure` of ``entries`` (paths relative to ``root``, the repository whose
    ``src/`` holds the modules; ``/``-separated, sorted)."""
    root = root.resolve()
    return {f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in closure((root / e for e in entries), root / "src")}

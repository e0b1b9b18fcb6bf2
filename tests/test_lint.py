"""Lint and types: ``ruff check`` over the project and ``mypy`` on src/srseg find nothing (pyproject.toml
configures both; constraints.txt pins them), so a new finding fails the test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _check(*args: str) -> None:
    """Run ``python -m ARGS`` in the repository; fail with its findings (long lines cut) unless it exits 0."""
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()
        findings = "\n".join(line if len(line) <= 300 else line[:300] + " …" for line in lines)
        pytest.fail(f"{' '.join(args)} (exit {proc.returncode}):\n{findings}", pytrace=False)


def test_ruff_finds_nothing() -> None:
    _check("ruff", "check", "--output-format", "concise", "--no-fix", ".")


def test_mypy_finds_nothing() -> None:
    _check("mypy")  # files, settings and the cache (.mypy_cache) come from pyproject.toml

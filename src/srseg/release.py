"""Releases of the trained models: version tags that ``dvc artifacts get`` resolves, and the README's model zoo.

A release gives every model that ``dvc.yaml`` declares under ``artifacts:`` the version ``v<version>`` at one
commit: an annotated Git tag ``<name>@v<version>`` (``sr-x4@v0.1.0``), the convention of GTO, which DVC's model
registry reads (``dvc artifacts get <repo> sr-x4 --rev v0.1.0``; without ``--rev``, the highest version). Before
tagging it checks that the commit's ``dvc.lock`` records each model and that the remote the models were pushed to
holds every one, so a version never names a model nobody can download.

``python -m srseg.release tag --remote NAME`` tags; ``python -m srseg.release zoo`` writes the README's model-zoo
table from ``metrics/summary.json`` (``--check``: only say whether it is up to date). docs/models.md is the guide.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from srseg import __version__
from srseg.dvcfile import artifacts, load_params
from srseg.errors import SrsegError
from srseg.io import replace_between
from srseg.methods.registry import HR, SR, trained
from srseg.params import Params
from srseg.paths import Paths

#: A semantic version with GTO's leading ``v`` (``v1.2.3``, ``v1.2.3-rc.1``).
VERSION_RE = re.compile(r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
SUMMARY = Paths().summary.as_posix()
#: The lines around the generated model-zoo table in README.md.
ZOO_BEGIN = f"<!-- model zoo: written by `python -m srseg.release zoo` from {SUMMARY}; do not edit -->"
ZOO_END = "<!-- end of model zoo -->"


class ReleaseError(SrsegError):
    """A release cannot be made as asked (a model unrecorded or not pushed, a version taken)."""


@dataclass(frozen=True)
class Model:
    """One declared model at the release commit: its artifact name, path, recorded hash and version tag."""

    name: str
    path: str
    md5: str
    tag: str


def version_of(text: str | None = None) -> str:
    """``v<semver>`` from ``text`` (``0.1.0`` or ``v0.1.0``; default: srseg's own version)."""
    version = text or __version__
    version = version if version.startswith("v") else f"v{version}"
    if not VERSION_RE.fullmatch(version):
        raise ReleaseError(f"version {text!r}: not a semantic version such as v1.2.3")
    return version


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _yaml_at(root: Path, rev: str, name: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_git(root, "show", f"{rev}:{name}"))
    except ReleaseError:
        raise ReleaseError(f"{name}: not committed at {rev}") from None
    return data or {}


def release_models(root: Path, rev: str, version: str) -> tuple[str, list[Model]]:
    """The commit ``rev`` resolves to and every model its ``dvc.yaml`` declares, with the hash its ``dvc.lock``
    records; ReleaseError naming each model that has no recorded output."""
    sha = _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    declared = _yaml_at(root, sha, "dvc.yaml").get("artifacts") or {}
    if not declared:
        raise ReleaseError(f"dvc.yaml at {rev}: declares no artifacts")
    locked = {o["path"]: o.get("md5") for st in (_yaml_at(root, sha, "dvc.lock").get("stages") or {}).values()
              for o in st.get("outs") or []}
    models, unrecorded = [], []
    for name, art in declared.items():
        md5 = locked.get(art["path"])
        if md5 is None:
            unrecorded.append(f"{name} ({art['path']})")
        else:
            models.append(Model(name, art["path"], md5, f"{name}@{version}"))
    if unrecorded:
        raise ReleaseError(f"dvc.lock at {rev} records no output for {', '.join(unrecorded)}: run `dvc repro` and "
                           "commit dvc.lock first")
    return sha, models


def missing_on_remote(root: Path, remote: str, md5s: Iterable[str]) -> list[str]:
    """The hashes among ``md5s`` that DVC remote ``remote`` does not hold."""
    from dvc.exceptions import DvcException  # type: ignore[import-untyped]
    from dvc.repo import Repo  # type: ignore[import-untyped]

    try:
        with Repo(str(root)) as repo:
            odb = repo.cloud.get_remote_odb(remote, "srseg.release")
            return [m for m in md5s if not odb.exists(m)]
    except DvcException as exc:
        raise ReleaseError(f"DVC remote {remote!r}: {exc}") from None


def tag(root: Path, remote: str, version: str, rev: str = "HEAD", dry_run: bool = False) -> list[str]:
    """Tag every declared model of ``rev`` as ``<name>@<version>`` after the checks above; return the new tags (a
    tag that already names the same commit is kept, one that names another commit is an error)."""
    sha, models = release_models(root, rev, version)
    missing = set(missing_on_remote(root, remote, [m.md5 for m in models]))
    if missing:
        names = ", ".join(m.name for m in models if m.md5 in missing)
        raise ReleaseError(f"DVC remote {remote!r} lacks {names} (or cannot be reached): "
                           f"`dvc push -r {remote}` at {rev} first")
    new: list[Model] = []
    for m in models:  # every tag checked before any is made
        existing = subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/tags/{m.tag}^{{commit}}"],
                                  cwd=root, capture_output=True, text=True).stdout.strip()
        if existing and existing != sha:
            raise ReleaseError(f"{m.tag} already names commit {existing[:12]}: a new model needs a new version")
        if not existing:
            new.append(m)
    if not dry_run:
        for m in new:
            _git(root, "tag", "-a", m.tag, "-m", f"Registering artifact {m.name} version {version}", sha)
    return [m.tag for m in new]


# ---------------------------------------------------------------------------------------------------------------
# The model zoo


def _model_variants(params: Params, paths: Paths) -> dict[str, str]:
    """Each default-run model file (its path, as in ``artifacts:``) and the summary variant that scores it."""
    k = params.seeds[0]
    out = {paths.sr_model(s, k).as_posix(): SR.variant(s) for s in params.scales}
    out[paths.seg_model("hr", k).as_posix()] = HR.variant(None)
    for m in trained():
        assert m.train is not None
        for s in m.scale_list(params):
            out[m.train.outs(paths, s, k).outs[0].as_posix()] = m.variant(s)
    return out


def _interval(entry: Mapping[str, Any], key: str, factor: float = 1.0) -> str:
    value, ci = entry.get(key), entry.get(f"{key}_ci95")
    if value is None:
        return "—"
    text = f"{factor * value:.2f}"
    return text + (f" [{factor * ci[0]:.2f}, {factor * ci[1]:.2f}]" if ci else "")


def zoo_table(summary: Mapping[str, Any], params: Params, version: str) -> str:
    """The model-zoo table: each model of ``artifacts:`` with its val scores from ``summary`` (the parsed
    ``metrics/summary.json``) and the command that fetches it."""
    variants = _model_variants(params, Paths())
    settings = summary.get("settings", {})
    seeds = settings.get("seeds", [params.seeds[0]])
    pooled = f"means over seeds {seeds}; the files are seed {params.seeds[0]}'s" if len(seeds) > 1 else \
        f"seed {seeds[0]}"
    caption = (f"The models of the default run (`data.source: {params.data.source}`, {pooled}), scored on its "
               f"{settings.get('val_images', '?')} val images, with 95 % intervals (`{SUMMARY}`). Y-PSNR is "
               "of the images the model makes; mIoU of the segmentation: the model's own, or for an SR model the "
               "HR-trained PSPNet's on its output. Each command works as [below](#use-the-trained-models) says.")
    lines = [*textwrap.wrap(caption, 118, break_on_hyphens=False),
             "",
             "| model | what it is | scale | Y-PSNR, dB | mIoU, % | get it |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, path, desc in artifacts(params):
        entry = summary.get("variants", {}).get(variants.get(path.as_posix(), ""))
        # without the stage that trains it (dvc.yaml has it) and the scale (a column of its own)
        what = re.sub(r"( ×\d+)?\s*\([^()]*@[^()]*\)$", "", desc)
        scale = re.search(r"-x(\d+)$", name)
        scores = [f"not in {SUMMARY}"] * 2 if entry is None else \
            [_interval(entry, "psnr_y"), _interval(entry, "miou", 100.0)]
        lines.append(f"| `{name}` | {what} | {f'×{scale.group(1)}' if scale else '—'} | {scores[0]} | {scores[1]} | "
                     f"`dvc artifacts get <repo> {name} --rev {version}` |")
    return "\n".join(lines)


def with_zoo(readme: str, table: str) -> str:
    """``readme`` with the text between the model-zoo markers replaced by ``table``."""
    try:
        return replace_between(readme, ZOO_BEGIN, ZOO_END, table, "README.md (model zoo)")
    except SrsegError as exc:
        raise ReleaseError(str(exc)) from None


def readme_with_zoo(root: Path) -> tuple[Path, str]:
    """README.md's path and its text with the model zoo of ``root``'s committed results and params."""
    paths = Paths(root)
    summary = json.loads(paths.summary.read_text(encoding="utf-8"))
    readme = root / "README.md"
    table = zoo_table(summary, load_params(root / "params.yaml"), version_of())
    return readme, with_zoo(readme.read_text(encoding="utf-8"), table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srseg.release", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tag", help="tag every model of dvc.yaml's artifacts as <name>@v<version>")
    t.add_argument("--remote", required=True, help="the DVC remote the models were pushed to (checked)")
    t.add_argument("--version", help=f"the version, v<semver> (default: srseg's, v{__version__})")
    t.add_argument("--rev", default="HEAD", help="the commit to tag (default: HEAD)")
    t.add_argument("--dry-run", action="store_true", help="check and list the tags, create none")
    z = sub.add_parser("zoo", help=f"write README.md's model-zoo table from {SUMMARY}")
    z.add_argument("--check", action="store_true", help="only say whether the table is up to date (exit 1 if not)")
    args = parser.parse_args(argv)
    root = Path.cwd()
    try:
        if args.command == "tag":
            root = Path(_git(root, "rev-parse", "--show-toplevel").strip())
            version = version_of(args.version)
            new = tag(root, args.remote, version, args.rev, args.dry_run)
            verb = "would create" if args.dry_run else "created"
            print(f"{verb} {len(new)} tag(s): {' '.join(new) or '(every model already has ' + version + ')'}")
            if new and not args.dry_run:
                print("publish them: git push origin " + " ".join(new))
            return 0
        readme, text = readme_with_zoo(root)
        if args.check:
            if readme.read_text(encoding="utf-8") != text:
                print(f"{readme}: model zoo out of date; run python -m srseg.release zoo", file=sys.stderr)
                return 1
            print(f"{readme}: model zoo up to date")
            return 0
        readme.write_text(text, encoding="utf-8")
        print(f"{readme}: model zoo written")
        return 0
    except SrsegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
